/*
 * C interface between Swift and PyTorch's ATen library.
 *
 * The ATen side lives in a separate shared library (libKontextTorchShim.so) that
 * is loaded at run time, after libtorch_cpu (and libtorch_cuda when present) have
 * been loaded by full path. That way one `kontext` binary runs wherever a torch
 * 2.11 wheel is installed, with or without CUDA, and the torch folder can be
 * chosen by a flag or an environment variable.
 *
 * Conventions:
 *  - Functions returning kt_tensor return NULL on failure; the message is then
 *    available from kt_last_error() on the same thread.
 *  - Nothing but kt_load, kt_load_error and kt_is_loaded may be called before
 *    kt_load has succeeded (the Swift layer guarantees it).
 *  - Functions returning int return 0 on success and -1 on failure.
 *  - Every tensor handle returned must be released with kt_free exactly once.
 */
#ifndef KONTEXT_CTORCH_H
#define KONTEXT_CTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_tensor_s *kt_tensor;
typedef struct kt_generator_s *kt_generator;
typedef void (*kt_release_fn)(void *context);

/* Element types; the numbering is part of the ABI between the Swift and C++ sides. */
enum {
  KT_FLOAT32 = 0,
  KT_BFLOAT16 = 1,
  KT_FLOAT16 = 2,
  KT_FLOAT8_E4M3FN = 3,
  KT_INT64 = 4,
  KT_UINT8 = 5,
  KT_INT32 = 6,
  KT_BOOL = 7,
  KT_FLOAT64 = 8
};

enum { KT_CPU = 0, KT_CUDA = 1 };

/*
 * The operation table. KT_FN(return type, name, parameter list, argument list).
 * The shim implements kt_impl_<name>; the loader exports kt_<name> forwarding to it.
 */
#define KT_OPERATIONS(KT_FN) \
  KT_FN(const char *, last_error, (void), ()) \
  KT_FN(const char *, torch_version, (void), ()) \
  KT_FN(int, cuda_available, (void), ()) \
  KT_FN(int, cuda_device_count, (void), ()) \
  KT_FN(int, synchronize, (int device_type, int device_index), (device_type, device_index)) \
  KT_FN(int, get_num_threads, (void), ()) \
  KT_FN(void, set_num_threads, (int count), (count)) \
  KT_FN(void, free, (kt_tensor t), (t)) \
  KT_FN(int64_t, dim, (kt_tensor t), (t)) \
  KT_FN(void, sizes, (kt_tensor t, int64_t *out), (t, out)) \
  KT_FN(int, dtype, (kt_tensor t), (t)) \
  KT_FN(int, device_type, (kt_tensor t), (t)) \
  KT_FN(int, device_index, (kt_tensor t), (t)) \
  KT_FN(int, is_contiguous, (kt_tensor t), (t)) \
  KT_FN(kt_tensor, from_data, (const void *data, const int64_t *shape, int ndim, int dtype), (data, shape, ndim, dtype)) \
  KT_FN(kt_tensor, from_blob, (void *data, const int64_t *shape, int ndim, int dtype, kt_release_fn release, void *context), (data, shape, ndim, dtype, release, context)) \
  KT_FN(int, copy_to, (kt_tensor t, void *destination, int64_t byte_count), (t, destination, byte_count)) \
  KT_FN(int, item_double, (kt_tensor t, double *out), (t, out)) \
  KT_FN(kt_tensor, full, (const int64_t *shape, int ndim, double value, int dtype, int device_type, int device_index), (shape, ndim, value, dtype, device_type, device_index)) \
  KT_FN(kt_tensor, arange, (double start, double end, double step, int dtype), (start, end, step, dtype)) \
  KT_FN(kt_tensor, linspace, (double start, double end, int64_t steps, int dtype), (start, end, steps, dtype)) \
  KT_FN(kt_generator, generator_new, (uint64_t seed), (seed)) \
  KT_FN(void, generator_free, (kt_generator g), (g)) \
  KT_FN(kt_tensor, randn, (const int64_t *shape, int ndim, int dtype, kt_generator g), (shape, ndim, dtype, g)) \
  KT_FN(kt_tensor, to, (kt_tensor t, int dtype, int device_type, int device_index), (t, dtype, device_type, device_index)) \
  KT_FN(kt_tensor, add, (kt_tensor a, kt_tensor b), (a, b)) \
  KT_FN(kt_tensor, sub, (kt_tensor a, kt_tensor b), (a, b)) \
  KT_FN(kt_tensor, mul, (kt_tensor a, kt_tensor b), (a, b)) \
  KT_FN(kt_tensor, div, (kt_tensor a, kt_tensor b), (a, b)) \
  KT_FN(kt_tensor, add_scalar, (kt_tensor a, double value), (a, value)) \
  KT_FN(kt_tensor, mul_scalar, (kt_tensor a, double value), (a, value)) \
  KT_FN(kt_tensor, pow_scalar, (kt_tensor a, double exponent), (a, exponent)) \
  KT_FN(kt_tensor, pow, (kt_tensor base, kt_tensor exponent), (base, exponent)) \
  KT_FN(kt_tensor, clamp, (kt_tensor a, double minimum, double maximum), (a, minimum, maximum)) \
  KT_FN(kt_tensor, unary, (kt_tensor a, int op), (a, op)) \
  KT_FN(kt_tensor, gelu, (kt_tensor a, int tanh_approximation), (a, tanh_approximation)) \
  KT_FN(kt_tensor, softmax, (kt_tensor a, int64_t dim), (a, dim)) \
  KT_FN(kt_tensor, mean, (kt_tensor a, const int64_t *dims, int ndims, int keepdim), (a, dims, ndims, keepdim)) \
  KT_FN(kt_tensor, sum, (kt_tensor a, const int64_t *dims, int ndims, int keepdim), (a, dims, ndims, keepdim)) \
  KT_FN(kt_tensor, amax, (kt_tensor a, const int64_t *dims, int ndims, int keepdim), (a, dims, ndims, keepdim)) \
  KT_FN(kt_tensor, scaled_mm, (kt_tensor a, kt_tensor b, kt_tensor scale_a, kt_tensor scale_b, kt_tensor bias, int out_dtype), (a, b, scale_a, scale_b, bias, out_dtype)) \
  KT_FN(kt_tensor, matmul, (kt_tensor a, kt_tensor b), (a, b)) \
  KT_FN(kt_tensor, linear, (kt_tensor x, kt_tensor weight, kt_tensor bias), (x, weight, bias)) \
  KT_FN(kt_tensor, layer_norm, (kt_tensor x, const int64_t *shape, int ndim, kt_tensor weight, kt_tensor bias, double eps), (x, shape, ndim, weight, bias, eps)) \
  KT_FN(kt_tensor, group_norm, (kt_tensor x, int64_t groups, kt_tensor weight, kt_tensor bias, double eps), (x, groups, weight, bias, eps)) \
  KT_FN(kt_tensor, rms_norm, (kt_tensor x, const int64_t *shape, int ndim, kt_tensor weight, double eps), (x, shape, ndim, weight, eps)) \
  KT_FN(kt_tensor, scaled_dot_product_attention, (kt_tensor q, kt_tensor k, kt_tensor v, kt_tensor mask, int is_causal, double scale), (q, k, v, mask, is_causal, scale)) \
  KT_FN(kt_tensor, conv2d, (kt_tensor x, kt_tensor weight, kt_tensor bias, const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups), (x, weight, bias, stride, padding, dilation, groups)) \
  KT_FN(kt_tensor, upsample_nearest2d, (kt_tensor x, int64_t height, int64_t width), (x, height, width)) \
  KT_FN(kt_tensor, pad, (kt_tensor x, const int64_t *padding, int count, double value), (x, padding, count, value)) \
  KT_FN(kt_tensor, reshape, (kt_tensor x, const int64_t *shape, int ndim), (x, shape, ndim)) \
  KT_FN(kt_tensor, permute, (kt_tensor x, const int64_t *dims, int ndim), (x, dims, ndim)) \
  KT_FN(kt_tensor, transpose, (kt_tensor x, int64_t dim0, int64_t dim1), (x, dim0, dim1)) \
  KT_FN(kt_tensor, expand, (kt_tensor x, const int64_t *shape, int ndim), (x, shape, ndim)) \
  KT_FN(kt_tensor, contiguous, (kt_tensor x), (x)) \
  KT_FN(kt_tensor, clone, (kt_tensor x), (x)) \
  KT_FN(kt_tensor, narrow, (kt_tensor x, int64_t dim, int64_t start, int64_t length), (x, dim, start, length)) \
  KT_FN(kt_tensor, cat, (const kt_tensor *tensors, int count, int64_t dim), (tensors, count, dim)) \
  KT_FN(kt_tensor, index_select, (kt_tensor x, int64_t dim, kt_tensor index), (x, dim, index)) \
  KT_FN(int, split, (kt_tensor x, const int64_t *sizes, int count, int64_t dim, kt_tensor *out), (x, sizes, count, dim, out))

/* Element-wise functions selected by kt_unary's op argument. */
enum {
  KT_UNARY_NEG = 0,
  KT_UNARY_EXP = 1,
  KT_UNARY_SIN = 2,
  KT_UNARY_COS = 3,
  KT_UNARY_SQRT = 4,
  KT_UNARY_RSQRT = 5,
  KT_UNARY_TANH = 6,
  KT_UNARY_SIGMOID = 7,
  KT_UNARY_SILU = 8,
  KT_UNARY_ABS = 9,
  KT_UNARY_LOG = 10
};

#define KT_DECLARE(ret, name, params, args) ret kt_##name params;
KT_OPERATIONS(KT_DECLARE)
#undef KT_DECLARE

/* Every operation's name and parameter list in one string: equal in the shim and the loader only
 * when both were built from the same list, which the loader checks before using the table (a
 * stale shim would otherwise call the wrong functions). */
#define KT_SIGNATURE_TEXT(ret, name, params, args) #ret " " #name #params ";"
#define KT_SIGNATURE KT_OPERATIONS(KT_SIGNATURE_TEXT)

/* The table the shim hands to the loader: its signature, then one entry per operation, in
 * KT_OPERATIONS order. */
#define KT_TABLE_ENTRY(ret, name, params, args) ret (*name) params;
typedef struct kt_api {
  const char *signature;
  KT_OPERATIONS(KT_TABLE_ENTRY)
} kt_api;
#undef KT_TABLE_ENTRY

/* The one symbol the shim exports; the loader looks it up with dlsym. */
#define KT_API_SYMBOL "kt_shim_api"
typedef const kt_api *(*kt_api_getter)(void);

/* Why the last kt_load on this thread failed; never NULL. */
const char *kt_load_error(void);

/*
 * Loads libtorch_cpu.so from torch_library_directory (and libtorch_cuda.so next to
 * it when it loads), then the shim at shim_path. Returns 0 on success; on failure
 * -1 and kt_load_error() says why. Calling it again after a success is a no-op.
 * cuda_status receives a short text: "loaded" or why CUDA support is absent.
 */
int kt_load(const char *torch_library_directory, const char *shim_path, char *cuda_status, size_t cuda_status_size);

/* 1 when kt_load has succeeded. */
int kt_is_loaded(void);

#ifdef __cplusplus
}
#endif

#endif
