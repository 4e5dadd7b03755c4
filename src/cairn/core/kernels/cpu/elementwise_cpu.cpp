// CPU elementwise kernels: unary and binary maps (forward and activation backward), where, copy, fill.
#include <cmath>
#include <limits>
#include <type_traits>

#include "cairn/core/kernels/cpu/loops.h"
#include "cairn/core/kernels/cpu/vec_erf.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {

std::vector<int64_t> broadcast_strides(const Tensor& t, const Shape& shape) {
  std::vector<int64_t> st(shape.size(), 0);
  const size_t off = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i)
    st[off + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// Exact GELU and its derivative: float32 through the vectorisable vec_erf.h (within 5 ulp, 16 lanes at a time),
// float64 through std::erf (the gradient checks' reference precision). Forced inline, as vec_erf.h's functions,
// so that the elementwise loops calling them vectorise.
template <class T>
CAIRN_VEC_INLINE T gelu_exact(T v) {
  if constexpr (std::is_same_v<T, float>) return vec_gelu(v);
  else return T(0.5) * v * (T(1) + std::erf(v * T(kSqrt1_2)));
}
template <class T>
CAIRN_VEC_INLINE T gelu_exact_backward(T g, T x) {
  if constexpr (std::is_same_v<T, float>) return vec_gelu_backward(g, x);
  else return g * (T(0.5) * (T(1) + std::erf(x * T(kSqrt1_2))) + x * T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x));
}

// Tanh-form GELU: float32 as x * sigmoid(2u) through vec_exp (vectorised), float64 as PyTorch writes it.
template <class T>
CAIRN_VEC_INLINE T gelu_tanh_form(T v) {
  if constexpr (std::is_same_v<T, float>) return vec_gelu_tanh(v);
  else return T(0.5) * v * (T(1) + std::tanh(T(kSqrt2OverPi) * (v + T(0.044715) * v * v * v)));
}
template <class T>
CAIRN_VEC_INLINE T gelu_tanh_form_backward(T g, T x) {
  if constexpr (std::is_same_v<T, float>) {
    return vec_gelu_tanh_backward(g, x);
  } else {
    const T u = T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x);
    const T t = std::tanh(u);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * 0.044715) * x * x);
    return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
  }
}

// ---- unary ----
template <class T, class F>
void unary_map(const Tensor& x, const Tensor& out, const F& f) {
  T* o = static_cast<T*>(out.raw_data());
  const T* xp = static_cast<const T*>(x.raw_data());
  if (x.is_contiguous()) {
    parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) o[i] = f(xp[i]);
    });
    return;
  }
  auto plan = make_plan<2>(out.shape(), {contiguous_strides(out.shape()), broadcast_strides(x, out.shape())});
  run_plan<2>(plan, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    T* op = o + off[0];
    const T* ip = xp + off[1];
    for (int64_t i = 0; i < n; ++i) op[i] = f(ip[i * st[1]]);
  });
}

template <class T>
struct Unary {
#define CAIRN_UNARY(name, expr)                                                  \
  static void name(const Tensor& x, const Tensor& out, Scalars p) {             \
    [[maybe_unused]] const T a = static_cast<T>(p.a), b = static_cast<T>(p.b);  \
    unary_map<T>(x, out, [=](T v) CAIRN_VEC_LAMBDA -> T { return expr; });      \
  }
  CAIRN_UNARY(neg, -v)
  CAIRN_UNARY(exp, std::exp(v))
  CAIRN_UNARY(log, std::log(v))
  CAIRN_UNARY(sqrt, std::sqrt(v))
  CAIRN_UNARY(rsqrt, T(1) / std::sqrt(v))
  CAIRN_UNARY(abs, std::abs(v))
  CAIRN_UNARY(square, v * v)
  CAIRN_UNARY(sign, static_cast<T>((v > T(0)) - (v < T(0))))
  CAIRN_UNARY(relu, !(v <= T(0)) ? v : T(0))  // NaN propagates, as in PyTorch
  CAIRN_UNARY(leaky_relu, !(v <= T(0)) ? v : v * a)
  CAIRN_UNARY(sigmoid, T(1) / (T(1) + std::exp(-v)))
  CAIRN_UNARY(tanh, std::tanh(v))
  CAIRN_UNARY(gelu, gelu_exact(v))
  CAIRN_UNARY(gelu_tanh, gelu_tanh_form(v))
  CAIRN_UNARY(silu, v / (T(1) + std::exp(-v)))
  CAIRN_UNARY(softplus, v * a > b ? v : std::log1p(std::exp(v * a)) / a)
  CAIRN_UNARY(pow_scalar, std::pow(v, a))
  CAIRN_UNARY(clamp, v < a ? a : (v > b ? b : v))
  CAIRN_UNARY(add_scalar, v + a)
  CAIRN_UNARY(mul_scalar, v * a)
  CAIRN_UNARY(rsub_scalar, a - v)
  CAIRN_UNARY(rdiv_scalar, a / v)
#undef CAIRN_UNARY
};

// out = f(x), grad = f'(x) in one pass over contiguous x, f(v, d) returning the value and setting d: the
// activation's backward is then one product, g * grad, instead of evaluating the derivative again.
template <class T, class F>
void unary_with_grad_map(const Tensor& x, const Tensor& out, const Tensor& grad, const F& f) {
  T* o = static_cast<T*>(out.raw_data());
  T* d = static_cast<T*>(grad.raw_data());
  const T* xp = static_cast<const T*>(x.raw_data());
  parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      T di;
      o[i] = f(xp[i], di);
      d[i] = di;
    }
  });
}

template <class T>
struct UnaryWithGrad {
  // float32 shares the exp and normal CDF between value and derivative (vec_gelu_and_grad); float64, the
  // gradient checks' precision, evaluates each as its own kernel does.
  static void gelu(const Tensor& x, const Tensor& out, const Tensor& grad, Scalars) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      float* const o0 = static_cast<float*>(out.raw_data());
      float* const d0 = static_cast<float*>(grad.raw_data());
      const float* const x0 = static_cast<const float*>(x.raw_data());
      parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
        // Local copies: the intrinsics' stores may alias anything, the captured pointers included.
        float* const o = o0;
        float* const d = d0;
        const float* const xp = x0;
        for (int64_t i = b; i < e; i += 16) {
          const __mmask16 m = static_cast<__mmask16>(e - i >= 16 ? 0xffff : (1u << (e - i)) - 1);
          __m512 dv;
          const __m512 y = gelu_and_grad16(_mm512_maskz_loadu_ps(m, xp + i), dv);
          _mm512_mask_storeu_ps(o + i, m, y);
          _mm512_mask_storeu_ps(d + i, m, dv);
        }
      });
      return;
    }
#endif
    unary_with_grad_map<T>(x, out, grad, [](T v, T& d) CAIRN_VEC_LAMBDA {
      if constexpr (std::is_same_v<T, float>) {
        return vec_gelu_and_grad(v, d);
      } else {
        d = gelu_exact_backward(T(1), v);
        return gelu_exact(v);
      }
    });
  }
  static void gelu_tanh(const Tensor& x, const Tensor& out, const Tensor& grad, Scalars) {
    unary_with_grad_map<T>(x, out, grad, [](T v, T& d) CAIRN_VEC_LAMBDA {
      d = gelu_tanh_form_backward(T(1), v);
      return gelu_tanh_form(v);
    });
  }
};

template <class T>
struct IntUnary {
  static void neg(const Tensor& x, const Tensor& out, Scalars) { unary_map<T>(x, out, [](T v) -> T { return -v; }); }
  static void abs(const Tensor& x, const Tensor& out, Scalars) {
    unary_map<T>(x, out, [](T v) -> T { return v < 0 ? -v : v; });
  }
  static void add_scalar(const Tensor& x, const Tensor& out, Scalars p) {
    unary_map<T>(x, out, [a = static_cast<T>(p.a)](T v) -> T { return v + a; });
  }
  static void mul_scalar(const Tensor& x, const Tensor& out, Scalars p) {
    unary_map<T>(x, out, [a = static_cast<T>(p.a)](T v) -> T { return v * a; });
  }
};

// ---- binary ----
template <class T, class R, class F>
void binary_map(const Tensor& a, const Tensor& b, const Tensor& out, const F& f) {
  R* o = static_cast<R*>(out.raw_data());
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  if (a.shape() == out.shape() && b.shape() == out.shape() && a.is_contiguous() && b.is_contiguous()) {
    parallel_for(0, out.numel(), kGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) o[i] = f(ap[i], bp[i]);
    });
    return;
  }
  auto plan = make_plan<3>(out.shape(), {contiguous_strides(out.shape()), broadcast_strides(a, out.shape()),
                                         broadcast_strides(b, out.shape())});
  run_plan<3>(plan, [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    R* op = o + off[0];
    const T* x = ap + off[1];
    const T* y = bp + off[2];
    if (st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i], y[i]);
    } else if (st[1] == 1 && st[2] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i], yv);
    } else if (st[1] == 0 && st[2] == 1) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) op[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <class T>
struct Binary {
#define CAIRN_BINARY(name, expr)                                                                   \
  static void name(const Tensor& ta, const Tensor& tb, const Tensor& out, Scalars p) {           \
    [[maybe_unused]] const T pa = static_cast<T>(p.a), pb = static_cast<T>(p.b);                 \
    binary_map<T, T>(ta, tb, out, [=](T a, T b) CAIRN_VEC_LAMBDA -> T { return expr; });         \
  }
  CAIRN_BINARY(add, a + b)
  CAIRN_BINARY(sub, a - b)
  CAIRN_BINARY(mul, a * b)
  CAIRN_BINARY(div, a / b)
  CAIRN_BINARY(maximum, (a > b || a != a) ? a : b)  // NaN propagates, as in PyTorch
  CAIRN_BINARY(minimum, (a < b || a != a) ? a : b)
  CAIRN_BINARY(pow, std::pow(a, b))
  // Backward helpers: a is the incoming gradient, b the saved input x (or output y where named).
  CAIRN_BINARY(relu_bw, b > T(0) ? a : T(0))
  CAIRN_BINARY(leaky_relu_bw, b > T(0) ? a : a * pa)
  CAIRN_BINARY(sigmoid_bw, a * b * (T(1) - b))
  CAIRN_BINARY(tanh_bw, a * (T(1) - b * b))
  CAIRN_BINARY(gelu_bw, gelu_exact_backward(a, b))
  CAIRN_BINARY(gelu_tanh_bw, gelu_tanh_form_backward(a, b))
  CAIRN_BINARY(silu_bw, a * ([](T x) {
                 const T s = T(1) / (T(1) + std::exp(-x));
                 return s * (T(1) + x * (T(1) - s));
               })(b))
  CAIRN_BINARY(softplus_bw, b * pa > pb ? a : a / (T(1) + std::exp(-b * pa)))
  CAIRN_BINARY(clamp_bw, (b >= pa && b <= pb) ? a : T(0))
  CAIRN_BINARY(abs_bw, a * static_cast<T>((b > T(0)) - (b < T(0))))
#undef CAIRN_BINARY
};

template <class T>
struct IntBinary {
  static void add(const Tensor& a, const Tensor& b, const Tensor& o, Scalars) { binary_map<T, T>(a, b, o, [](T x, T y) -> T { return x + y; }); }
  static void sub(const Tensor& a, const Tensor& b, const Tensor& o, Scalars) { binary_map<T, T>(a, b, o, [](T x, T y) -> T { return x - y; }); }
  static void mul(const Tensor& a, const Tensor& b, const Tensor& o, Scalars) { binary_map<T, T>(a, b, o, [](T x, T y) -> T { return x * y; }); }
  static void maximum(const Tensor& a, const Tensor& b, const Tensor& o, Scalars) { binary_map<T, T>(a, b, o, [](T x, T y) -> T { return x > y ? x : y; }); }
  static void minimum(const Tensor& a, const Tensor& b, const Tensor& o, Scalars) { binary_map<T, T>(a, b, o, [](T x, T y) -> T { return x < y ? x : y; }); }
};

template <class T>
struct Compare {
#define CAIRN_CMP(name, expr)                                                              \
  static void name(const Tensor& ta, const Tensor& tb, const Tensor& out, Scalars) {     \
    binary_map<T, uint8_t>(ta, tb, out, [](T a, T b) -> uint8_t { return (expr) ? 1 : 0; }); \
  }
  CAIRN_CMP(eq, a == b)
  CAIRN_CMP(ne, a != b)
  CAIRN_CMP(lt, a < b)
  CAIRN_CMP(le, a <= b)
  CAIRN_CMP(gt, a > b)
  CAIRN_CMP(ge, a >= b)
#undef CAIRN_CMP
};

// ---- where, copy, fill ----
template <class T>
void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape& s = out.shape();
  auto plan = make_plan<4>(s, {contiguous_strides(s), broadcast_strides(cond, s), broadcast_strides(a, s),
                               broadcast_strides(b, s)});
  T* o = static_cast<T*>(out.raw_data());
  const uint8_t* c = static_cast<const uint8_t*>(cond.raw_data());
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  run_plan<4>(plan, [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
    for (int64_t i = 0; i < n; ++i)
      o[off[0] + i * st[0]] = c[off[1] + i * st[1]] ? ap[off[2] + i * st[2]] : bp[off[3] + i * st[3]];
  });
}

template <class S, class D>
void copy_typed(const Tensor& src, const Tensor& dst) {
  const Shape& s = dst.shape();
  D* d = static_cast<D*>(dst.raw_data());
  const S* sp = static_cast<const S*>(src.raw_data());
  if (src.shape() == s && src.is_contiguous() && dst.is_contiguous()) {
    parallel_for(0, dst.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] = static_cast<D>(sp[i]);
    });
    return;
  }
  std::vector<int64_t> dst_strides(dst.strides().begin(), dst.strides().end());
  auto plan = make_plan<2>(s, {dst_strides, broadcast_strides(src, s)});
  run_plan<2>(plan, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    D* dp = d + off[0];
    const S* ip = sp + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(ip[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = static_cast<D>(ip[i * st[1]]);
    }
  });
}

template <class S>
void copy_kernel(const Tensor& src, const Tensor& dst) {
  switch (dst.dtype()) {
    case DType::f32: return copy_typed<S, float>(src, dst);
    case DType::f64: return copy_typed<S, double>(src, dst);
    case DType::i64: return copy_typed<S, int64_t>(src, dst);
    case DType::i32: return copy_typed<S, int32_t>(src, dst);
    case DType::u8: return copy_typed<S, uint8_t>(src, dst);
    case DType::i8: return copy_typed<S, int8_t>(src, dst);
    default: throw DTypeError(detail::cat("copy: no conversion to ", dtype_name(dst.dtype()), " on cpu"));
  }
}

template <class T>
void fill_kernel(const Tensor& dst, double value) {
  const T v = static_cast<T>(value);
  T* d = static_cast<T*>(dst.raw_data());
  if (dst.is_contiguous()) {
    parallel_for(0, dst.numel(), kGrain, [&](int64_t b, int64_t e) { std::fill(d + b, d + e, v); });
    return;
  }
  std::vector<int64_t> st(dst.strides().begin(), dst.strides().end());
  auto plan = make_plan<1>(dst.shape(), {st});
  run_plan<1>(plan, [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& s) {
    for (int64_t i = 0; i < n; ++i) d[off[0] + i * s[0]] = v;
  });
}

template <class T>
void register_float(DType dt) {
  auto U = [&](const char* n, UnaryKernel k) { registry_table<UnaryKernel>(n).set(DeviceType::CPU, dt, k); };
  auto B = [&](const char* n, BinaryKernel k) { registry_table<BinaryKernel>(n).set(DeviceType::CPU, dt, k); };
  using u = Unary<T>;
  U("neg", u::neg); U("exp", u::exp); U("log", u::log); U("sqrt", u::sqrt); U("rsqrt", u::rsqrt);
  U("abs", u::abs); U("square", u::square); U("sign", u::sign); U("relu", u::relu); U("leaky_relu", u::leaky_relu);
  U("sigmoid", u::sigmoid); U("tanh", u::tanh); U("gelu", u::gelu); U("gelu_tanh", u::gelu_tanh);
  U("silu", u::silu); U("softplus", u::softplus); U("pow_scalar", u::pow_scalar); U("clamp", u::clamp);
  U("add_scalar", u::add_scalar); U("mul_scalar", u::mul_scalar); U("rsub_scalar", u::rsub_scalar);
  U("rdiv_scalar", u::rdiv_scalar);
  auto UG = [&](const char* n, UnaryWithGradKernel k) {
    registry_table<UnaryWithGradKernel>(n).set(DeviceType::CPU, dt, k);
  };
  UG("gelu_with_grad", UnaryWithGrad<T>::gelu); UG("gelu_tanh_with_grad", UnaryWithGrad<T>::gelu_tanh);
  using b = Binary<T>;
  B("add", b::add); B("sub", b::sub); B("mul", b::mul); B("div", b::div); B("maximum", b::maximum);
  B("minimum", b::minimum); B("pow", b::pow); B("relu_bw", b::relu_bw); B("leaky_relu_bw", b::leaky_relu_bw);
  B("sigmoid_bw", b::sigmoid_bw); B("tanh_bw", b::tanh_bw); B("gelu_bw", b::gelu_bw);
  B("gelu_tanh_bw", b::gelu_tanh_bw); B("silu_bw", b::silu_bw); B("softplus_bw", b::softplus_bw);
  B("clamp_bw", b::clamp_bw); B("abs_bw", b::abs_bw);
}

template <class T>
void register_int(DType dt) {
  auto U = [&](const char* n, UnaryKernel k) { registry_table<UnaryKernel>(n).set(DeviceType::CPU, dt, k); };
  auto B = [&](const char* n, BinaryKernel k) { registry_table<BinaryKernel>(n).set(DeviceType::CPU, dt, k); };
  U("neg", IntUnary<T>::neg); U("abs", IntUnary<T>::abs);
  U("add_scalar", IntUnary<T>::add_scalar); U("mul_scalar", IntUnary<T>::mul_scalar);
  B("add", IntBinary<T>::add); B("sub", IntBinary<T>::sub); B("mul", IntBinary<T>::mul);
  B("maximum", IntBinary<T>::maximum); B("minimum", IntBinary<T>::minimum);
}

template <class T>
void register_any(DType dt) {
  auto B = [&](const char* n, BinaryKernel k) { registry_table<BinaryKernel>(n).set(DeviceType::CPU, dt, k); };
  B("eq", Compare<T>::eq); B("ne", Compare<T>::ne); B("lt", Compare<T>::lt);
  B("le", Compare<T>::le); B("gt", Compare<T>::gt); B("ge", Compare<T>::ge);
  registry_table<WhereKernel>("where").set(DeviceType::CPU, dt, where_kernel<T>);
  registry_table<CopyKernel>("copy").set(DeviceType::CPU, dt, copy_kernel<T>);
  registry_table<FillKernel>("fill").set(DeviceType::CPU, dt, fill_kernel<T>);
}

}  // namespace

void register_elementwise() {
  register_float<float>(DType::f32);
  register_float<double>(DType::f64);
  register_int<int64_t>(DType::i64);
  register_int<int32_t>(DType::i32);
  register_any<float>(DType::f32);
  register_any<double>(DType::f64);
  register_any<int64_t>(DType::i64);
  register_any<int32_t>(DType::i32);
  register_any<uint8_t>(DType::u8);
  register_any<int8_t>(DType::i8);
}

}  // namespace cairn::kernels::cpu
