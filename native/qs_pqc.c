/*
 * quantaseal's build of PQClean's ML-DSA-65 and ML-KEM-768 ("clean" implementations, the same C
 * the pqclean package compiles), exposed through Node-API.
 *
 * Why a second binding of the same code: the pqclean package builds every PQClean algorithm as
 * separate static libraries without link-time optimization, so the tiny field-arithmetic helpers
 * (montgomery_reduce and friends) stay out-of-line calls through the PLT and the polynomial loops
 * cannot be vectorized. Built with -O3, LTO and (on x86-64 Linux) the x86-64-v2 baseline, ML-DSA-65
 * signing is ~2x faster and ML-KEM-768 ~1.7x (README, "Installing"). The algorithms are untouched.
 *
 * What this file adds to PQClean, because PQClean trusts its callers:
 *  - every argument is checked (a Uint8Array of the exact length, attached, not shared) before
 *    PQClean sees a pointer; a wrong length would read or write out of bounds;
 *  - the random bytes come from PQCLEAN_randombytes below, which records a failure of the system
 *    generator instead of letting PQClean (which ignores the return value) go on with whatever was
 *    on the stack: the call then throws and its output is discarded;
 *  - ML-KEM encapsulation refuses a public key that fails FIPS 203's modulus check, as noble does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/random.h>
#else
#include <unistd.h>
#endif

#define NAPI_VERSION 8
#include <node_api.h>

#include "crypto_kem/ml-kem-768/clean/api.h"
#include "crypto_sign/ml-dsa-65/clean/api.h"

#define MLDSA_PK PQCLEAN_MLDSA65_CLEAN_CRYPTO_PUBLICKEYBYTES
#define MLDSA_SK PQCLEAN_MLDSA65_CLEAN_CRYPTO_SECRETKEYBYTES
#define MLDSA_SIG PQCLEAN_MLDSA65_CLEAN_CRYPTO_BYTES
#define MLKEM_PK PQCLEAN_MLKEM768_CLEAN_CRYPTO_PUBLICKEYBYTES
#define MLKEM_SK PQCLEAN_MLKEM768_CLEAN_CRYPTO_SECRETKEYBYTES
#define MLKEM_CT PQCLEAN_MLKEM768_CLEAN_CRYPTO_CIPHERTEXTBYTES
#define MLKEM_SS PQCLEAN_MLKEM768_CLEAN_CRYPTO_BYTES
/* FIPS 204: the context string is at most 255 bytes. */
#define MLDSA_MAX_CONTEXT 255
/* FIPS 203: the encoded public key is 384 * k bytes of 12-bit coefficients, then the 32-byte rho. */
#define MLKEM_Q 3329
#define MLKEM_POLYVEC_BYTES (MLKEM_PK - 32)
/* Sentinel for "any length" in read_bytes. */
#define ANY_LENGTH ((size_t)-1)

/* ---- randomness ---------------------------------------------------------------------------- */

/* Set when the system generator failed during the current call on this thread (worker threads
 * each have their own). Checked and cleared around every PQClean call that draws randomness. */
static _Thread_local bool rng_failed = false;

/* PQClean's randombytes (common/randombytes.h names it PQCLEAN_randombytes; its own randombytes.c
 * is not compiled in). Never returns short: on failure the output is zeroed and rng_failed set. */
int PQCLEAN_randombytes(uint8_t *output, size_t n) {
  size_t done = 0;
  while (done < n) {
#if defined(__linux__)
    ssize_t got = getrandom(output + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += (size_t)got;
#else
    /* getentropy (macOS, the BSDs): at most 256 bytes a call. */
    size_t chunk = n - done > 256 ? 256 : n - done;
    if (getentropy(output + done, chunk) != 0) break;
    done += chunk;
#endif
  }
  if (done == n) return 0;
  memset(output, 0, n);
  rng_failed = true;
  return -1;
}

/* ---- arguments and errors -------------------------------------------------------------------- */

/* A Node-API call failed: throw its error unless one is already pending. Returns NULL. */
static napi_value fail(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, "QS_PQC_NAPI", info != NULL && info->error_message != NULL ? info->error_message : "Node-API call failed");
  return NULL;
}

/*
 * Throws unless `value` is a Uint8Array (a Buffer is one) of `want` bytes (any length if
 * ANY_LENGTH) over an attached, non-shared ArrayBuffer that holds all of it. A detached view
 * reports length 0, which must not pass for an empty message or context; a SharedArrayBuffer could
 * change under PQClean between two reads of the same input.
 */
static bool read_bytes(napi_env env, napi_value value, size_t want, const char *what, const uint8_t **data, size_t *length) {
  static const uint8_t empty[1] = {0};
  bool is_typedarray = false, is_arraybuffer = false, detached = false;
  napi_typedarray_type type;
  void *raw = NULL, *backing = NULL;
  napi_value buffer;
  size_t offset = 0, buffer_length = 0;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_uint8_array ||
      /* False for a SharedArrayBuffer, which Node 24's napi_get_arraybuffer_info accepts. */
      napi_is_arraybuffer(env, buffer, &is_arraybuffer) != napi_ok || !is_arraybuffer ||
      napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached ||
      napi_get_arraybuffer_info(env, buffer, &backing, &buffer_length) != napi_ok || offset > buffer_length ||
      *length > buffer_length - offset) {
    napi_throw_type_error(env, "QS_PQC_ARGUMENT", what);
    return false;
  }
  if (want != ANY_LENGTH && *length != want) {
    napi_throw_range_error(env, "QS_PQC_LENGTH", what);
    return false;
  }
  /* An empty view may have no backing store; PQClean only needs a valid pointer. */
  *data = raw != NULL ? (const uint8_t *)raw : empty;
  return true;
}

/* Reads the optional context argument (absent or undefined means the empty context). */
static bool read_context(napi_env env, size_t argc, napi_value *argv, size_t index, const uint8_t **ctx, size_t *ctxlen) {
  static const uint8_t empty[1] = {0};
  *ctx = empty;
  *ctxlen = 0;
  if (argc <= index) return true;
  napi_valuetype kind;
  if (napi_typeof(env, argv[index], &kind) != napi_ok) return fail(env), false;
  if (kind == napi_undefined) return true;
  if (!read_bytes(env, argv[index], ANY_LENGTH, "context must be a Uint8Array", ctx, ctxlen)) return false;
  if (*ctxlen > MLDSA_MAX_CONTEXT) {
    napi_throw_range_error(env, "QS_PQC_LENGTH", "context must be at most 255 bytes");
    return false;
  }
  return true;
}

/* The call's arguments; throws (and returns false) when fewer than `need` were given. */
static bool read_args(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, size_t need, const char *usage) {
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) return fail(env), false;
  if (*argc < need) {
    napi_throw_type_error(env, "QS_PQC_ARGUMENT", usage);
    return false;
  }
  return true;
}

/* FIPS 203 §7.2 encapsulation key check: every 12-bit coefficient is below q. */
static bool mlkem_public_key_ok(const uint8_t *pk) {
  for (size_t i = 0; i < MLKEM_POLYVEC_BYTES; i += 3) {
    uint16_t a = (uint16_t)(pk[i] | ((pk[i + 1] & 0x0f) << 8));
    uint16_t b = (uint16_t)((pk[i + 1] >> 4) | (pk[i + 2] << 4));
    if (a >= MLKEM_Q || b >= MLKEM_Q) return false;
  }
  return true;
}

/* ---- the four operations --------------------------------------------------------------------- */

/* mldsa65Sign(secretKey: 4032 B, message, context?) -> Buffer(3309): FIPS 204 ML-DSA.Sign (hedged). */
static napi_value mldsa65_sign(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  const uint8_t *sk, *msg, *ctx;
  size_t sklen, msglen, ctxlen;
  if (!read_args(env, info, &argc, argv, 2, "mldsa65Sign(secretKey, message, context?)")) return NULL;
  if (!read_bytes(env, argv[0], MLDSA_SK, "secretKey must be a 4032-byte Uint8Array", &sk, &sklen)) return NULL;
  if (!read_bytes(env, argv[1], ANY_LENGTH, "message must be a Uint8Array", &msg, &msglen)) return NULL;
  if (!read_context(env, argc, argv, 2, &ctx, &ctxlen)) return NULL;
  uint8_t *sig;
  napi_value out;
  if (napi_create_buffer(env, MLDSA_SIG, (void **)&sig, &out) != napi_ok) return fail(env);
  size_t siglen = 0;
  rng_failed = false;
  int rc = PQCLEAN_MLDSA65_CLEAN_crypto_sign_signature_ctx(sig, &siglen, msg, msglen, ctx, ctxlen, sk);
  if (rng_failed) {
    memset(sig, 0, MLDSA_SIG);
    napi_throw_error(env, "QS_PQC_RANDOM", "the system random number generator failed; nothing was signed");
    return NULL;
  }
  if (rc != 0 || siglen != MLDSA_SIG) {
    napi_throw_error(env, "QS_PQC_FAILED", "ML-DSA-65 signing failed");
    return NULL;
  }
  return out;
}

/* mldsa65Verify(publicKey: 1952 B, message, signature, context?) -> boolean; false for any bad signature. */
static napi_value mldsa65_verify(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  const uint8_t *pk, *msg, *sig, *ctx;
  size_t pklen, msglen, siglen, ctxlen;
  if (!read_args(env, info, &argc, argv, 3, "mldsa65Verify(publicKey, message, signature, context?)")) return NULL;
  if (!read_bytes(env, argv[0], MLDSA_PK, "publicKey must be a 1952-byte Uint8Array", &pk, &pklen)) return NULL;
  if (!read_bytes(env, argv[1], ANY_LENGTH, "message must be a Uint8Array", &msg, &msglen)) return NULL;
  if (!read_bytes(env, argv[2], ANY_LENGTH, "signature must be a Uint8Array", &sig, &siglen)) return NULL;
  if (!read_context(env, argc, argv, 3, &ctx, &ctxlen)) return NULL;
  /* PQClean refuses a signature of any other length before it reads one byte of it. */
  bool ok = PQCLEAN_MLDSA65_CLEAN_crypto_sign_verify_ctx(sig, siglen, msg, msglen, ctx, ctxlen, pk) == 0;
  napi_value result;
  if (napi_get_boolean(env, ok, &result) != napi_ok) return fail(env);
  return result;
}

/* mlkem768Encapsulate(publicKey: 1184 B) -> { cipherText: Buffer(1088), sharedSecret: Buffer(32) }. */
static napi_value mlkem768_encapsulate(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  const uint8_t *pk;
  size_t pklen;
  if (!read_args(env, info, &argc, argv, 1, "mlkem768Encapsulate(publicKey)")) return NULL;
  if (!read_bytes(env, argv[0], MLKEM_PK, "publicKey must be a 1184-byte Uint8Array", &pk, &pklen)) return NULL;
  if (!mlkem_public_key_ok(pk)) {
    napi_throw_range_error(env, "QS_PQC_KEY", "publicKey is not an ML-KEM-768 key (FIPS 203 modulus check)");
    return NULL;
  }
  uint8_t *ct, *ss;
  napi_value ct_value, ss_value, result;
  if (napi_create_buffer(env, MLKEM_CT, (void **)&ct, &ct_value) != napi_ok) return fail(env);
  if (napi_create_buffer(env, MLKEM_SS, (void **)&ss, &ss_value) != napi_ok) return fail(env);
  rng_failed = false;
  int rc = PQCLEAN_MLKEM768_CLEAN_crypto_kem_enc(ct, ss, pk);
  if (rng_failed) {
    memset(ss, 0, MLKEM_SS);
    memset(ct, 0, MLKEM_CT);
    napi_throw_error(env, "QS_PQC_RANDOM", "the system random number generator failed; nothing was encapsulated");
    return NULL;
  }
  if (rc != 0) {
    napi_throw_error(env, "QS_PQC_FAILED", "ML-KEM-768 encapsulation failed");
    return NULL;
  }
  if (napi_create_object(env, &result) != napi_ok || napi_set_named_property(env, result, "cipherText", ct_value) != napi_ok ||
      napi_set_named_property(env, result, "sharedSecret", ss_value) != napi_ok) {
    return fail(env);
  }
  return result;
}

/* mlkem768Decapsulate(secretKey: 2400 B, cipherText: 1088 B) -> Buffer(32); implicit rejection per FIPS 203. */
static napi_value mlkem768_decapsulate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  const uint8_t *sk, *ct;
  size_t sklen, ctlen;
  if (!read_args(env, info, &argc, argv, 2, "mlkem768Decapsulate(secretKey, cipherText)")) return NULL;
  if (!read_bytes(env, argv[0], MLKEM_SK, "secretKey must be a 2400-byte Uint8Array", &sk, &sklen)) return NULL;
  if (!read_bytes(env, argv[1], MLKEM_CT, "cipherText must be a 1088-byte Uint8Array", &ct, &ctlen)) return NULL;
  uint8_t *ss;
  napi_value out;
  if (napi_create_buffer(env, MLKEM_SS, (void **)&ss, &out) != napi_ok) return fail(env);
  if (PQCLEAN_MLKEM768_CLEAN_crypto_kem_dec(ss, ct, sk) != 0) {
    napi_throw_error(env, "QS_PQC_FAILED", "ML-KEM-768 decapsulation failed");
    return NULL;
  }
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor methods[] = {
      {"mldsa65Sign", NULL, mldsa65_sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mldsa65Verify", NULL, mldsa65_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlkem768Encapsulate", NULL, mlkem768_encapsulate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlkem768Decapsulate", NULL, mlkem768_decapsulate, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]), methods) != napi_ok) return fail(env);
  return exports;
}
