// The part of sodium-native (libsodium) that mailpassd uses; the package ships no types.
declare module 'sodium-native' {
  const sodium: {
    readonly crypto_pwhash_STRBYTES: number;
    crypto_pwhash_str_async(out: Buffer, passwd: Buffer, opslimit: number, memlimit: number): Promise<void>;
    crypto_pwhash_str_verify_async(str: Buffer, passwd: Buffer): Promise<boolean>;
    sodium_memzero(buf: Buffer): void;
  };
  export default sodium;
}
