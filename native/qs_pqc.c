/*
 * quantaseal's build of PQClean's ML-DSA-65 and ML-KEM-768 ("clean" implementations, the same C
 * the pqclean package compiles), exposed through Node-API.
 *
 * Why a second binding of the same code: the pqclean package builds every PQClean algorithm as
 * separate static libraries without link-time optimization, so the tiny field-arithmetic helpers
 * (montgomery_reduce and friends) stay out-of-line calls through the PLT and the polynomial loops
 * cannot be vectorized. Built with -O3, LTO and (on x86-64) the x86-64-v2 baseline, ML-DSA-65
 * signing is ~2x faster and ML-KEM-768 ~1.7x (see native/README.md). The algorithms are untouched.
 *
 * Inputs are checked here (type and exact length) because PQClean trusts its callers; a wrong
 * length would read or write out of bounds.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

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
/* Sentinel for "any length" in read_bytes. */
#define ANY_LENGTH ((size_t)-1)

/* Throws unless `value` is a Uint8Array (a Buffer is one) of `want` bytes (any length if ANY_LENGTH). */
static int read_bytes(napi_env env, napi_value value, size_t want, const char *what, const uint8_t **data, size_t *length) {
  bool is_typedarray = false;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "QS_PQC_ARGUMENT", what);
    return 0;
  }
  if (want != ANY_LENGTH && *length != want) {
    napi_throw_range_error(env, "QS_PQC_LENGTH", what);
    return 0;
  }
  /* A zero-length view may have no backing store; PQClean only needs a valid pointer. */
  static const uint8_t empty[1] = {0};
  *data = raw != NULL ? (const uint8_t *)raw : empty;
  return 1;
}

/* Reads the optional context argument (absent or undefined means the empty context). */
static int read_context(napi_env env, size_t argc, napi_value *argv, size_t index, const uint8_t **ctx, size_t *ctxlen) {
  static const uint8_t empty[1] = {0};
  *ctx = empty;
  *ctxlen = 0;
  if (argc <= index) return 1;
  napi_valuetype kind;
  if (napi_typeof(env, argv[index], &kind) != napi_ok) return 0;
  if (kind == napi_undefined) return 1;
  if (!read_bytes(env, argv[index], ANY_LENGTH, "context must be a Uint8Array", ctx, ctxlen)) return 0;
  if (*ctxlen > MLDSA_MAX_CONTEXT) {
    napi_throw_range_error(env, "QS_PQC_LENGTH", "context must be at most 255 bytes");
    return 0;
  }
  return 1;
}

static napi_value new_buffer(napi_env env, size_t length, uint8_t **data) {
  napi_value buffer;
  if (napi_create_buffer(env, length, (void **)data, &buffer) != napi_ok) return NULL;
  return buffer;
}

/* mldsa65Sign(secretKey: 4032 B, message, context?) -> Buffer(3309): FIPS 204 ML-DSA.Sign (hedged). */
static napi_value mldsa65_sign(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  const uint8_t *sk, *msg, *ctx;
  size_t sklen, msglen, ctxlen;
  if (argc < 2) return napi_throw_type_error(env, "QS_PQC_ARGUMENT", "mldsa65Sign(secretKey, message, context?)"), NULL;
  if (!read_bytes(env, argv[0], MLDSA_SK, "secretKey must be a 4032-byte Uint8Array", &sk, &sklen)) return NULL;
  if (!read_bytes(env, argv[1], ANY_LENGTH, "message must be a Uint8Array", &msg, &msglen)) return NULL;
  if (!read_context(env, argc, argv, 2, &ctx, &ctxlen)) return NULL;
  uint8_t *sig;
  napi_value out = new_buffer(env, MLDSA_SIG, &sig);
  if (out == NULL) return NULL;
  size_t siglen = 0;
  if (PQCLEAN_MLDSA65_CLEAN_crypto_sign_signature_ctx(sig, &siglen, msg, msglen, ctx, ctxlen, sk) != 0 || siglen != MLDSA_SIG) {
    napi_throw_error(env, "QS_PQC_FAILED", "ML-DSA-65 signing failed");
    return NULL;
  }
  return out;
}

/* mldsa65Verify(publicKey: 1952 B, message, signature, context?) -> boolean; false for any bad signature. */
static napi_value mldsa65_verify(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  const uint8_t *pk, *msg, *sig, *ctx;
  size_t pklen, msglen, siglen, ctxlen;
  if (argc < 3) return napi_throw_type_error(env, "QS_PQC_ARGUMENT", "mldsa65Verify(publicKey, message, signature, context?)"), NULL;
  if (!read_bytes(env, argv[0], MLDSA_PK, "publicKey must be a 1952-byte Uint8Array", &pk, &pklen)) return NULL;
  if (!read_bytes(env, argv[1], ANY_LENGTH, "message must be a Uint8Array", &msg, &msglen)) return NULL;
  if (!read_bytes(env, argv[2], ANY_LENGTH, "signature must be a Uint8Array", &sig, &siglen)) return NULL;
  if (!read_context(env, argc, argv, 3, &ctx, &ctxlen)) return NULL;
  /* PQClean checks the signature length itself and refuses any other. */
  int ok = PQCLEAN_MLDSA65_CLEAN_crypto_sign_verify_ctx(sig, siglen, msg, msglen, ctx, ctxlen, pk) == 0;
  napi_value result;
  if (napi_get_boolean(env, ok, &result) != napi_ok) return NULL;
  return result;
}

/* mlkem768Encapsulate(publicKey: 1184 B) -> { cipherText: Buffer(1088), sharedSecret: Buffer(32) }. */
static napi_value mlkem768_encapsulate(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  const uint8_t *pk;
  size_t pklen;
  if (argc < 1) return napi_throw_type_error(env, "QS_PQC_ARGUMENT", "mlkem768Encapsulate(publicKey)"), NULL;
  if (!read_bytes(env, argv[0], MLKEM_PK, "publicKey must be a 1184-byte Uint8Array", &pk, &pklen)) return NULL;
  uint8_t *ct, *ss;
  napi_value ct_value = new_buffer(env, MLKEM_CT, &ct);
  if (ct_value == NULL) return NULL;
  napi_value ss_value = new_buffer(env, MLKEM_SS, &ss);
  if (ss_value == NULL) return NULL;
  if (PQCLEAN_MLKEM768_CLEAN_crypto_kem_enc(ct, ss, pk) != 0) {
    napi_throw_error(env, "QS_PQC_FAILED", "ML-KEM-768 encapsulation failed");
    return NULL;
  }
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok || napi_set_named_property(env, result, "cipherText", ct_value) != napi_ok ||
      napi_set_named_property(env, result, "sharedSecret", ss_value) != napi_ok) {
    return NULL;
  }
  return result;
}

/* mlkem768Decapsulate(secretKey: 2400 B, cipherText: 1088 B) -> Buffer(32); implicit rejection per FIPS 203. */
static napi_value mlkem768_decapsulate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  const uint8_t *sk, *ct;
  size_t sklen, ctlen;
  if (argc < 2) return napi_throw_type_error(env, "QS_PQC_ARGUMENT", "mlkem768Decapsulate(secretKey, cipherText)"), NULL;
  if (!read_bytes(env, argv[0], MLKEM_SK, "secretKey must be a 2400-byte Uint8Array", &sk, &sklen)) return NULL;
  if (!read_bytes(env, argv[1], MLKEM_CT, "cipherText must be a 1088-byte Uint8Array", &ct, &ctlen)) return NULL;
  uint8_t *ss;
  napi_value out = new_buffer(env, MLKEM_SS, &ss);
  if (out == NULL) return NULL;
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
  if (napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]), methods) != napi_ok) return NULL;
  return exports;
}
