// The ATen side of the C interface in ctorch.h. Every entry point catches every
// exception: a failure becomes a NULL (or -1) result and a thread-local message.
#include "ctorch.h"

#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/headeronly/version.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

struct kt_tensor_s {
  at::Tensor value;
};

struct kt_generator_s {
  at::Generator value;
};

namespace {

thread_local std::string last_error_message;

void remember(const char *message) { last_error_message = message; }

kt_tensor wrap(at::Tensor value) { return new kt_tensor_s{std::move(value)}; }

// Runs body; turns any exception into `failure` and a message.
template <typename Result, typename Body>
Result guarded(Result failure, Body body) {
  try {
    return body();
  } catch (const c10::Error &error) {
    remember(error.what_without_backtrace());
  } catch (const std::exception &error) {
    remember(error.what());
  } catch (...) {
    remember("unknown C++ exception");
  }
  return failure;
}

template <typename Body>
kt_tensor tensor_op(Body body) {
  return guarded<kt_tensor>(nullptr, [&] { return wrap(body()); });
}

template <typename Body>
int status_op(Body body) {
  return guarded<int>(-1, [&] {
    body();
    return 0;
  });
}

at::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case KT_FLOAT32: return at::kFloat;
    case KT_BFLOAT16: return at::kBFloat16;
    case KT_FLOAT16: return at::kHalf;
    case KT_FLOAT8_E4M3FN: return at::kFloat8_e4m3fn;
    case KT_INT64: return at::kLong;
    case KT_UINT8: return at::kByte;
    case KT_INT32: return at::kInt;
    case KT_BOOL: return at::kBool;
    case KT_FLOAT64: return at::kDouble;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

int dtype_code(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return KT_FLOAT32;
    case at::kBFloat16: return KT_BFLOAT16;
    case at::kHalf: return KT_FLOAT16;
    case at::kFloat8_e4m3fn: return KT_FLOAT8_E4M3FN;
    case at::kLong: return KT_INT64;
    case at::kByte: return KT_UINT8;
    case at::kInt: return KT_INT32;
    case at::kBool: return KT_BOOL;
    case at::kDouble: return KT_FLOAT64;
    default: return -1;
  }
}

at::Device device(int type, int index) {
  switch (type) {
    case KT_CPU: return at::Device(at::kCPU);
    case KT_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("unknown device code " + std::to_string(type));
}

at::IntArrayRef ints(const int64_t *values, int count) {
  return at::IntArrayRef(values, static_cast<size_t>(count));
}

std::optional<at::Tensor> optional_tensor(kt_tensor t) {
  if (t == nullptr) return std::nullopt;
  return t->value;
}

}  // namespace

extern "C" {

static const char *kt_impl_last_error(void) { return last_error_message.c_str(); }

static const char *kt_impl_torch_version(void) { return TORCH_VERSION; }

static int kt_impl_cuda_available(void) {
  return guarded<int>(0, [] { return at::detail::getCUDAHooks().hasCUDA() ? 1 : 0; });
}

static int kt_impl_cuda_device_count(void) {
  return guarded<int>(0, [] { return at::detail::getCUDAHooks().getNumGPUs(); });
}

static int kt_impl_synchronize(int device_type, int device_index) {
  return status_op([&] {
    if (device_type == KT_CPU) return;
    at::accelerator::synchronizeDevice(device(device_type, device_index).index());
  });
}

static int kt_impl_get_num_threads(void) { return at::get_num_threads(); }

static void kt_impl_set_num_threads(int count) { at::set_num_threads(count); }

static void kt_impl_free(kt_tensor t) { delete t; }

static int64_t kt_impl_dim(kt_tensor t) { return t->value.dim(); }

static void kt_impl_sizes(kt_tensor t, int64_t *out) {
  auto sizes = t->value.sizes();
  std::copy(sizes.begin(), sizes.end(), out);
}

static int kt_impl_dtype(kt_tensor t) { return dtype_code(t->value.scalar_type()); }

static int kt_impl_device_type(kt_tensor t) { return t->value.is_cuda() ? KT_CUDA : KT_CPU; }

static int kt_impl_device_index(kt_tensor t) { return t->value.is_cuda() ? t->value.device().index() : 0; }

static int kt_impl_is_contiguous(kt_tensor t) { return t->value.is_contiguous() ? 1 : 0; }

static kt_tensor kt_impl_from_data(const void *data, const int64_t *shape, int ndim, int dtype) {
  return tensor_op([&] {
    auto result = at::empty(ints(shape, ndim), at::TensorOptions().dtype(scalar_type(dtype)));
    std::memcpy(result.data_ptr(), data, result.nbytes());
    return result;
  });
}

static kt_tensor kt_impl_from_blob(void *data, const int64_t *shape, int ndim, int dtype, kt_release_fn release,
                                   void *context) {
  auto result = tensor_op([&] {
    return at::from_blob(
        data, ints(shape, ndim), [release, context](void *) { release(context); },
        at::TensorOptions().dtype(scalar_type(dtype)));
  });
  // On failure ATen never took ownership of the context, so hand it back here.
  if (result == nullptr) release(context);
  return result;
}

static int kt_impl_copy_to(kt_tensor t, void *destination, int64_t byte_count) {
  return status_op([&] {
    auto host = t->value.to(at::kCPU).contiguous();
    if (static_cast<int64_t>(host.nbytes()) != byte_count) {
      throw std::invalid_argument("copy_to: tensor has " + std::to_string(host.nbytes()) +
                                  " bytes, destination has " + std::to_string(byte_count));
    }
    std::memcpy(destination, host.data_ptr(), host.nbytes());
  });
}

static int kt_impl_item_double(kt_tensor t, double *out) {
  return status_op([&] { *out = t->value.item<double>(); });
}

static kt_tensor kt_impl_full(const int64_t *shape, int ndim, double value, int dtype, int device_type,
                              int device_index) {
  return tensor_op([&] {
    return at::full(ints(shape, ndim), value,
                    at::TensorOptions().dtype(scalar_type(dtype)).device(device(device_type, device_index)));
  });
}

static kt_tensor kt_impl_arange(double start, double end, double step, int dtype) {
  return tensor_op([&] { return at::arange(start, end, step, at::TensorOptions().dtype(scalar_type(dtype))); });
}

static kt_tensor kt_impl_linspace(double start, double end, int64_t steps, int dtype) {
  return tensor_op([&] { return at::linspace(start, end, steps, at::TensorOptions().dtype(scalar_type(dtype))); });
}

static kt_generator kt_impl_generator_new(uint64_t seed) {
  return guarded<kt_generator>(nullptr, [&] {
    auto generator = at::detail::createCPUGenerator(seed);
    return new kt_generator_s{generator};
  });
}

static void kt_impl_generator_free(kt_generator g) { delete g; }

static kt_tensor kt_impl_randn(const int64_t *shape, int ndim, int dtype, kt_generator g) {
  return tensor_op([&] {
    return at::randn(ints(shape, ndim), g->value, at::TensorOptions().dtype(scalar_type(dtype)));
  });
}

static kt_tensor kt_impl_to(kt_tensor t, int dtype, int device_type, int device_index) {
  return tensor_op([&] { return t->value.to(device(device_type, device_index), scalar_type(dtype)); });
}

static kt_tensor kt_impl_add(kt_tensor a, kt_tensor b) { return tensor_op([&] { return a->value + b->value; }); }
static kt_tensor kt_impl_sub(kt_tensor a, kt_tensor b) { return tensor_op([&] { return a->value - b->value; }); }
static kt_tensor kt_impl_mul(kt_tensor a, kt_tensor b) { return tensor_op([&] { return a->value * b->value; }); }
static kt_tensor kt_impl_div(kt_tensor a, kt_tensor b) { return tensor_op([&] { return a->value / b->value; }); }

static kt_tensor kt_impl_add_scalar(kt_tensor a, double value) {
  return tensor_op([&] { return at::add(a->value, value); });
}

static kt_tensor kt_impl_mul_scalar(kt_tensor a, double value) {
  return tensor_op([&] { return at::mul(a->value, value); });
}

static kt_tensor kt_impl_pow(kt_tensor base, kt_tensor exponent) {
  return tensor_op([&] { return at::pow(base->value, exponent->value); });
}

static kt_tensor kt_impl_pow_scalar(kt_tensor a, double exponent) {
  return tensor_op([&] { return at::pow(a->value, exponent); });
}

static kt_tensor kt_impl_clamp(kt_tensor a, double minimum, double maximum) {
  return tensor_op([&] { return at::clamp(a->value, minimum, maximum); });
}

static kt_tensor kt_impl_unary(kt_tensor a, int op) {
  return tensor_op([&] {
    const auto &x = a->value;
    switch (op) {
      case KT_UNARY_NEG: return at::neg(x);
      case KT_UNARY_EXP: return at::exp(x);
      case KT_UNARY_SIN: return at::sin(x);
      case KT_UNARY_COS: return at::cos(x);
      case KT_UNARY_SQRT: return at::sqrt(x);
      case KT_UNARY_RSQRT: return at::rsqrt(x);
      case KT_UNARY_TANH: return at::tanh(x);
      case KT_UNARY_SIGMOID: return at::sigmoid(x);
      case KT_UNARY_SILU: return at::silu(x);
      case KT_UNARY_ABS: return at::abs(x);
      case KT_UNARY_LOG: return at::log(x);
    }
    throw std::invalid_argument("unknown unary op " + std::to_string(op));
  });
}

static kt_tensor kt_impl_gelu(kt_tensor a, int tanh_approximation) {
  return tensor_op([&] { return at::gelu(a->value, tanh_approximation ? "tanh" : "none"); });
}

static kt_tensor kt_impl_softmax(kt_tensor a, int64_t dim) {
  return tensor_op([&] { return at::softmax(a->value, dim); });
}

static kt_tensor kt_impl_mean(kt_tensor a, const int64_t *dims, int ndims, int keepdim) {
  return tensor_op([&] { return at::mean(a->value, ints(dims, ndims), keepdim != 0); });
}

static kt_tensor kt_impl_sum(kt_tensor a, const int64_t *dims, int ndims, int keepdim) {
  return tensor_op([&] { return at::sum(a->value, ints(dims, ndims), keepdim != 0); });
}

static kt_tensor kt_impl_amax(kt_tensor a, const int64_t *dims, int ndims, int keepdim) {
  return tensor_op([&] { return at::amax(a->value, ints(dims, ndims), keepdim != 0); });
}

// fp8 matrix product with row-wise scales (CUDA, sm_89 and later): a (M, K) e4m3 row-major,
// b (K, N) e4m3 column-major, scale_a (M, 1), scale_b (1, N) float32.
static kt_tensor kt_impl_scaled_mm(kt_tensor a, kt_tensor b, kt_tensor scale_a, kt_tensor scale_b, kt_tensor bias, int out_dtype) {
  return tensor_op([&] {
    std::optional<at::Tensor> bias_value;
    if (bias) bias_value = bias->value;
    return at::_scaled_mm(a->value, b->value, scale_a->value, scale_b->value, bias_value, std::nullopt, scalar_type(out_dtype), true);
  });
}

static kt_tensor kt_impl_matmul(kt_tensor a, kt_tensor b) {
  return tensor_op([&] { return at::matmul(a->value, b->value); });
}

static kt_tensor kt_impl_linear(kt_tensor x, kt_tensor weight, kt_tensor bias) {
  return tensor_op([&] { return at::linear(x->value, weight->value, optional_tensor(bias)); });
}

static kt_tensor kt_impl_layer_norm(kt_tensor x, const int64_t *shape, int ndim, kt_tensor weight, kt_tensor bias,
                                    double eps) {
  return tensor_op([&] {
    return at::layer_norm(x->value, ints(shape, ndim), optional_tensor(weight), optional_tensor(bias), eps);
  });
}

static kt_tensor kt_impl_group_norm(kt_tensor x, int64_t groups, kt_tensor weight, kt_tensor bias, double eps) {
  return tensor_op([&] {
    return at::group_norm(x->value, groups, optional_tensor(weight), optional_tensor(bias), eps);
  });
}

static kt_tensor kt_impl_rms_norm(kt_tensor x, const int64_t *shape, int ndim, kt_tensor weight, double eps) {
  return tensor_op([&] { return at::rms_norm(x->value, ints(shape, ndim), optional_tensor(weight), eps); });
}

static kt_tensor kt_impl_scaled_dot_product_attention(kt_tensor q, kt_tensor k, kt_tensor v, kt_tensor mask,
                                                      int is_causal, double scale) {
  return tensor_op([&] {
    std::optional<double> explicit_scale;
    if (!std::isnan(scale)) explicit_scale = scale;
    return at::scaled_dot_product_attention(q->value, k->value, v->value, optional_tensor(mask), 0.0,
                                            is_causal != 0, explicit_scale);
  });
}

static kt_tensor kt_impl_conv2d(kt_tensor x, kt_tensor weight, kt_tensor bias, const int64_t *stride,
                                const int64_t *padding, const int64_t *dilation, int64_t groups) {
  return tensor_op([&] {
    return at::conv2d(x->value, weight->value, optional_tensor(bias), ints(stride, 2), ints(padding, 2),
                      ints(dilation, 2), groups);
  });
}

static kt_tensor kt_impl_upsample_nearest2d(kt_tensor x, int64_t height, int64_t width) {
  return tensor_op([&] {
    const int64_t size[2] = {height, width};
    return at::upsample_nearest2d(x->value, ints(size, 2));
  });
}

static kt_tensor kt_impl_pad(kt_tensor x, const int64_t *padding, int count, double value) {
  return tensor_op([&] { return at::constant_pad_nd(x->value, ints(padding, count), value); });
}

static kt_tensor kt_impl_reshape(kt_tensor x, const int64_t *shape, int ndim) {
  return tensor_op([&] { return x->value.reshape(ints(shape, ndim)); });
}

static kt_tensor kt_impl_permute(kt_tensor x, const int64_t *dims, int ndim) {
  return tensor_op([&] { return x->value.permute(ints(dims, ndim)); });
}

static kt_tensor kt_impl_transpose(kt_tensor x, int64_t dim0, int64_t dim1) {
  return tensor_op([&] { return x->value.transpose(dim0, dim1); });
}

static kt_tensor kt_impl_expand(kt_tensor x, const int64_t *shape, int ndim) {
  return tensor_op([&] { return x->value.expand(ints(shape, ndim)); });
}

static kt_tensor kt_impl_contiguous(kt_tensor x) { return tensor_op([&] { return x->value.contiguous(); }); }

static kt_tensor kt_impl_clone(kt_tensor x) {
  return tensor_op([&] { return x->value.clone(at::MemoryFormat::Contiguous); });
}

static kt_tensor kt_impl_narrow(kt_tensor x, int64_t dim, int64_t start, int64_t length) {
  return tensor_op([&] { return x->value.narrow(dim, start, length); });
}

static kt_tensor kt_impl_cat(const kt_tensor *tensors, int count, int64_t dim) {
  return tensor_op([&] {
    std::vector<at::Tensor> parts;
    parts.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) parts.push_back(tensors[i]->value);
    return at::cat(parts, dim);
  });
}

static kt_tensor kt_impl_index_select(kt_tensor x, int64_t dim, kt_tensor index) {
  return tensor_op([&] { return at::index_select(x->value, dim, index->value); });
}

static int kt_impl_split(kt_tensor x, const int64_t *sizes, int count, int64_t dim, kt_tensor *out) {
  return status_op([&] {
    auto parts = at::split_with_sizes(x->value, ints(sizes, count), dim);
    for (size_t i = 0; i < parts.size(); ++i) out[i] = wrap(parts[i]);
  });
}

#define KT_TABLE_VALUE(ret, name, params, args) kt_impl_##name,
static const kt_api shim_api = {KT_SIGNATURE, KT_OPERATIONS(KT_TABLE_VALUE)};
#undef KT_TABLE_VALUE

__attribute__((visibility("default"))) const kt_api *kt_shim_api(void) { return &shim_api; }

}  // extern "C"
