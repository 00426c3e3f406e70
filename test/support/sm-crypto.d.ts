/** sm-crypto ships no types; the tests use SM4 decryption only. */
declare module 'sm-crypto' {
  export const sm4: {
    decrypt(cipherHex: string, keyHex: string, options?: { mode?: 'cbc' | 'ecb'; iv?: string; padding?: string; output?: 'string' | 'array' }): string | number[];
    encrypt(plain: string, keyHex: string, options?: { mode?: 'cbc' | 'ecb'; iv?: string; padding?: string; output?: 'string' | 'array' }): string | number[];
  };
}
