/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access tokens: 256 random bits from the kernel CSPRNG in URL-safe base64, and
 * the SHA-256 digest under which the store keeps them (never the token itself). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "store.h"

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_DIGEST_BYTES 32

/* Unpadded base64 of n bytes is ceil(4n/3) characters. */
_Static_assert(TOKEN_STRLEN == (TOKEN_RANDOM_BYTES * 4 + 2) / 3, "token length does not match its entropy");
_Static_assert(TOKEN_HASH_STRLEN == TOKEN_DIGEST_BYTES * 2, "hash length does not match SHA-256");

/* getrandom(2) may return short for large requests and EINTR when interrupted
 * before the pool is ready; both just mean "ask again". */
static int token_random(uint8_t *buf, size_t n) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = getrandom(buf + done, n - done, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        return 0;
}

int token_generate(char ret[static TOKEN_STRLEN + 1]) {
        /* EVP_EncodeBlock writes padded base64 plus a NUL: 4 * ceil(32 / 3) + 1 bytes. */
        unsigned char b64[4 * ((TOKEN_RANDOM_BYTES + 2) / 3) + 1];
        uint8_t raw[TOKEN_RANDOM_BYTES];
        int n, r;

        r = token_random(raw, sizeof raw);
        if (r < 0)
                return r;
        n = EVP_EncodeBlock(b64, raw, sizeof raw);
        explicit_bzero(raw, sizeof raw);
        if (n < TOKEN_STRLEN) {
                explicit_bzero(b64, sizeof b64);
                return -EIO;
        }

        /* RFC 4648 section 5 alphabet, so the token needs no escaping in URLs or headers;
         * the characters past TOKEN_STRLEN are the '=' padding, dropped. */
        for (size_t i = 0; i < TOKEN_STRLEN; i++)
                switch (b64[i]) {
                case '+':
                        ret[i] = '-';
                        break;
                case '/':
                        ret[i] = '_';
                        break;
                default:
                        ret[i] = (char) b64[i];
                }
        ret[TOKEN_STRLEN] = '\0';
        explicit_bzero(b64, sizeof b64);
        return 0;
}

/* Plain SHA-256, no salt and no slow KDF: a token carries 256 bits from the
 * CSPRNG, so neither guessing nor a precomputed table can beat the hash, unlike
 * with human passwords. It also keeps the lookup an exact match on an index, so
 * there is no secret-dependent comparison for timing to leak. */
int token_hash(const char *token, char ret[static TOKEN_HASH_STRLEN + 1]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        size_t len;

        if (!token)
                return -EINVAL;
        len = strnlen(token, TOKEN_MAX_LEN + 1);
        if (len == 0 || len > TOKEN_MAX_LEN)
                return -EINVAL;

        /* Fetched once: an implicit fetch per call costs more than the digest of 43 bytes.
         * The pointer stays reachable for the process lifetime, on purpose. */
        static EVP_MD *sha256 = NULL;
        if (!sha256)
                sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (!sha256 || EVP_Digest(token, len, md, &md_len, sha256, NULL) != 1 || md_len != TOKEN_DIGEST_BYTES) {
                log_debug("libcrypto: SHA-256 failed: %s", ERR_reason_error_string(ERR_peek_last_error()) ?: "?");
                ERR_clear_error();
                return -EIO;
        }
        for (size_t i = 0; i < TOKEN_DIGEST_BYTES; i++) {
                ret[2 * i] = hex[md[i] >> 4];
                ret[2 * i + 1] = hex[md[i] & 0xf];
        }
        ret[TOKEN_HASH_STRLEN] = '\0';
        return 0;
}
