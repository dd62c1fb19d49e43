// Types for the part of sodium-native (libsodium bindings) that onechat uses. The package ships
// no declarations of its own.
declare module "sodium-native" {
  type Bytes = Uint8Array
  const sodium: {
    sodium_memzero(buf: Bytes): void
    randombytes_buf(buf: Bytes): void
    crypto_scalarmult_BYTES: number
    crypto_scalarmult_SCALARBYTES: number
    crypto_scalarmult_base(q: Bytes, n: Bytes): void
    crypto_scalarmult(q: Bytes, n: Bytes, p: Bytes): void
    crypto_sign_BYTES: number
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_SEEDBYTES: number
    crypto_sign_seed_keypair(pk: Bytes, sk: Bytes, seed: Bytes): void
    crypto_sign_detached(sig: Bytes, m: Bytes, sk: Bytes): void
    crypto_sign_verify_detached(sig: Bytes, m: Bytes, pk: Bytes): boolean
    crypto_hash_sha256(out: Bytes, input: Bytes): void
    crypto_aead_chacha20poly1305_ietf_ABYTES: number
    crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
    crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number
    crypto_aead_chacha20poly1305_ietf_encrypt(
      c: Bytes,
      m: Bytes,
      ad: Bytes | null,
      nsec: null,
      npub: Bytes,
      k: Bytes,
    ): number
    crypto_aead_chacha20poly1305_ietf_decrypt(
      m: Bytes,
      nsec: null,
      c: Bytes,
      ad: Bytes | null,
      npub: Bytes,
      k: Bytes,
    ): number
  }
  export default sodium
}
