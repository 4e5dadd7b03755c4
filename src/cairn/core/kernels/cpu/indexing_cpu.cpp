// CPU indexing kernels: index_select / index_add (whole rows, the embedding path) and gather / scatter_add
// (one element per index, any strides). Indices arrive as contiguous int64 already checked by the op.
// Sums into one output element always run on one thread in index order, so results do not depend on the
// thread count.
#include <cstring>

#include "cairn/core/kernels/cpu/loops.h"
#include "cairn/core/kernels/cpu/parallel_rows.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

// Columns per work item of index_add when there are too few slabs to share out.
constexpr int64_t kColumnChunk = 64;

// x (A, D, B) -> out (A, n, B) =, out[a, i, :] = x[a, index[i], :].
template <class T>
void index_select_kernel(const Tensor& xt, const Tensor& it, const Tensor& outt, int64_t A, int64_t D, int64_t B) {
  const T* x = static_cast<const T*>(xt.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(it.raw_data());
  T* out = static_cast<T*>(outt.raw_data());
  const int64_t n = it.numel();
  // Rows are copies bound by memory latency (a batch gathered from a data set): two threads keep twice as many
  // misses in flight, so the grain is a quarter of the usual.
  parallel_rows(0, A * n, std::max<int64_t>(1, kGrain / 4 / std::max<int64_t>(B, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t a = r / n, i = r % n;
      std::memcpy(out + r * B, x + (a * D + idx[i]) * B, static_cast<size_t>(B) * sizeof(T));
    }
  });
}

// out (A, D, B) += src (A, n, B) at rows index (n). Each (a, column range) is one work item, so repeated rows
// add up in index order without two threads touching one element.
template <class T>
void index_add_kernel(const Tensor& outt, const Tensor& it, const Tensor& srct, int64_t A, int64_t D, int64_t B) {
  T* out = static_cast<T*>(outt.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(it.raw_data());
  const T* src = static_cast<const T*>(srct.raw_data());
  const int64_t n = it.numel();
  const int64_t chunks = (B + kColumnChunk - 1) / kColumnChunk;
  const int64_t per_item = n * std::min(B, kColumnChunk);
  parallel_rows(0, A * chunks, std::max<int64_t>(1, kGrain / std::max<int64_t>(per_item, 1)),
                [&](int64_t w0, int64_t w1) {
                  for (int64_t w = w0; w < w1; ++w) {
                    const int64_t a = w / chunks, b0 = (w % chunks) * kColumnChunk;
                    const int64_t len = std::min(B, b0 + kColumnChunk) - b0;
                    for (int64_t i = 0; i < n; ++i) {
                      T* o = out + (a * D + idx[i]) * B + b0;
                      const T* s = src + (a * n + i) * B + b0;
                      for (int64_t j = 0; j < len; ++j) o[j] += s[j];
                    }
                  }
                });
}

// Walks the rows (all dims but the last) of `shape` from row r0, keeping the offset of a strided operand.
// `strides` gives each dim's stride in that operand (0 for a dim the operand does not move along).
struct RowWalker {
  const Shape& shape;
  const Shape& strides;
  std::vector<int64_t> coord;
  int64_t offset = 0;

  RowWalker(const Shape& s, const Shape& st, int64_t row) : shape(s), strides(st), coord(s.size(), 0) {
    for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) {
      coord[d] = row % s[d];
      row /= s[d];
      offset += coord[d] * st[d];
    }
  }
  void next() {
    for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) {
      offset += strides[d];
      if (++coord[d] < shape[d]) return;
      offset -= strides[d] * shape[d];
      coord[d] = 0;
    }
  }
};

// x's strides with the gathered dim zeroed: the offset of everything but the index.
Shape other_strides(const Tensor& t, int64_t dim) {
  Shape st = t.strides();
  st[dim] = 0;
  return st;
}

// out (index's shape, contiguous) =, out[p] = x[p with coordinate `dim` replaced by index[p]].
template <class T>
void gather_kernel(const Tensor& xt, int64_t dim, const Tensor& it, const Tensor& outt) {
  const T* x = static_cast<const T*>(xt.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(it.raw_data());
  T* out = static_cast<T*>(outt.raw_data());
  const Shape& s = it.shape();
  const int64_t nd = static_cast<int64_t>(s.size());
  if (it.numel() == 0) return;
  const Shape xo = other_strides(xt, dim);
  const int64_t xsd = xt.strides()[dim], inner = s[nd - 1], xin = xo[nd - 1];
  const int64_t rows = it.numel() / inner;
  parallel_rows(0, rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
    RowWalker w(s, xo, r0);
    for (int64_t r = r0; r < r1; ++r, w.next()) {
      const T* xr = x + w.offset;
      const int64_t* ir = idx + r * inner;
      T* o = out + r * inner;
      for (int64_t j = 0; j < inner; ++j) o[j] = xr[j * xin + ir[j] * xsd];
    }
  });
}

// out (contiguous) +=, out[p with coordinate `dim` replaced by index[p]] += src[p] for every p in index's
// shape. Positions that differ only in coordinate `dim` can hit one element; they all lie in one slab of
// rows (fixed coordinates before `dim`), so slabs go to threads and each slab runs in order.
template <class T>
void scatter_add_kernel(const Tensor& outt, int64_t dim, const Tensor& it, const Tensor& srct) {
  T* out = static_cast<T*>(outt.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(it.raw_data());
  const T* src = static_cast<const T*>(srct.raw_data());
  const Shape& s = it.shape();
  const int64_t nd = static_cast<int64_t>(s.size());
  if (it.numel() == 0) return;
  const Shape oo = other_strides(outt, dim);
  const Shape& ss = srct.strides();
  const int64_t osd = outt.strides()[dim], inner = s[nd - 1], oin = oo[nd - 1], sin = ss[nd - 1];
  int64_t slab = 1;  // rows per slab: prod(s[dim .. nd-2])
  for (int64_t d = dim; d < nd - 1; ++d) slab *= s[d];
  const int64_t slabs = it.numel() / inner / slab;
  parallel_rows(0, slabs, std::max<int64_t>(1, kGrain / (slab * inner)), [&](int64_t s0, int64_t s1) {
    RowWalker wo(s, oo, s0 * slab), ws(s, ss, s0 * slab);
    for (int64_t r = s0 * slab; r < s1 * slab; ++r, wo.next(), ws.next()) {
      T* orow = out + wo.offset;
      const T* sr = src + ws.offset;
      const int64_t* ir = idx + r * inner;
      for (int64_t j = 0; j < inner; ++j) orow[j * oin + ir[j] * osd] += sr[j * sin];
    }
  });
}

template <class T>
void register_indexing(DType dt) {
  registry_table<IndexSelectKernel>("index_select").set(DeviceType::CPU, dt, index_select_kernel<T>);
  registry_table<IndexAddKernel>("index_add").set(DeviceType::CPU, dt, index_add_kernel<T>);
  registry_table<GatherKernel>("gather").set(DeviceType::CPU, dt, gather_kernel<T>);
  registry_table<ScatterAddKernel>("scatter_add").set(DeviceType::CPU, dt, scatter_add_kernel<T>);
}

}  // namespace

void register_indexing() {
  register_indexing<float>(DType::f32);
  register_indexing<double>(DType::f64);
  register_indexing<int64_t>(DType::i64);
  register_indexing<int32_t>(DType::i32);
  register_indexing<uint8_t>(DType::u8);
  register_indexing<int8_t>(DType::i8);
}

}  // namespace cairn::kernels::cpu
