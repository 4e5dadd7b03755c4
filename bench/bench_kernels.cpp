// Kernel throughput at 2 threads, each figure next to what this machine can do:
//   - FP32 GEMM 1024^3 through cairn::matmul and straight through cblas_sgemm (OpenBLAS's own figure), GFLOP/s;
//   - conv2d forward and forward+backward for the reference CNN's two layers at batch 32, GFLOP/s;
//   - add, relu, gelu and sum over 4M floats, GB/s.
// Peaks, measured first in the same run: FP32 from a register-only FMA loop (AVX-512 when built for it) on every
// thread, and bandwidth from a plain parallel copy of the same 4M floats (the data fits in cache on big-L3
// machines, so this is the reference the elementwise kernels can reach, not DRAM bandwidth).
//
//   bench/run_kernels.sh                   # builds and runs; see BENCHMARKS.md, section "Kernels"
//   build/bench/bench_kernels --benchmark_filter=Gemm
//
// Each benchmark repeats (--benchmark_repetitions, default 3 here) and the summary keeps each one's best
// repetition, because on a shared machine the slow repetitions measure the neighbours, not the kernel.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cairn/core/core.h"
#include "cairn/core/kernels/cpu/conv_dnnl.h"
#include "cairn/core/kernels/threading.h"

extern "C" char* openblas_get_corename(void) __attribute__((weak));

namespace {

using cairn::DType;
using cairn::Tensor;

constexpr int kThreads = 2;
constexpr int64_t kStreamElems = 4 << 20;  // 4M floats

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- machine peaks ----

// FMA throughput with independent accumulators held in registers (12 chains hide the 4-cycle latency of two FMA
// ports), on every thread at once; GFLOP/s for the whole team.
double fma_peak_gflops(int threads) {
  constexpr long kIters = 20'000'000;
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = seconds_now();
    float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#if defined(__AVX512F__)
      __m512 acc[12];
      for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(0.001f * k);
      const __m512 a = _mm512_set1_ps(0.99999f), b = _mm512_set1_ps(1e-7f);
      for (long i = 0; i < kIters; ++i)
        for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
      float lanes[16];
      for (int k = 0; k < 12; ++k) {
        _mm512_storeu_ps(lanes, acc[k]);
        for (float v : lanes) sink += v;
      }
      constexpr int kLanes = 16;
#elif defined(__AVX2__) && defined(__FMA__)
      __m256 acc[12];
      for (int k = 0; k < 12; ++k) acc[k] = _mm256_set1_ps(0.001f * k);
      const __m256 a = _mm256_set1_ps(0.99999f), b = _mm256_set1_ps(1e-7f);
      for (long i = 0; i < kIters; ++i)
        for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
      float lanes[8];
      for (int k = 0; k < 12; ++k) {
        _mm256_storeu_ps(lanes, acc[k]);
        for (float v : lanes) sink += v;
      }
      constexpr int kLanes = 8;
#else
      float acc[12];
      for (int k = 0; k < 12; ++k) acc[k] = 0.001f * k;
      for (long i = 0; i < kIters; ++i)
        for (int k = 0; k < 12; ++k) acc[k] = acc[k] * 0.99999f + 1e-7f;
      for (float v : acc) sink += v;
      constexpr int kLanes = 1;
#endif
      (void)kLanes;
    }
    const double dt = seconds_now() - t0;
#if defined(__AVX512F__)
    const double lanes = 16;
#elif defined(__AVX2__) && defined(__FMA__)
    const double lanes = 8;
#else
    const double lanes = 1;
#endif
    benchmark::DoNotOptimize(sink);
    best = std::max(best, threads * kIters * 12.0 * lanes * 2.0 / dt / 1e9);
  }
  return best;
}

// A plain parallel copy of 4M floats: read 16 MB + write 16 MB.
double copy_bandwidth_gbs(int threads) {
  std::vector<float> src(kStreamElems, 1.0f), dst(kStreamElems);
  double best = 0.0;
  for (int rep = 0; rep < 20; ++rep) {
    double t0 = seconds_now();
#pragma omp parallel num_threads(threads)
    {
      const int64_t n = kStreamElems / omp_get_num_threads(), b = n * omp_get_thread_num();
      std::memcpy(dst.data() + b, src.data() + b, n * sizeof(float));
    }
    const double dt = seconds_now() - t0;
    if (rep > 2) best = std::max(best, 2.0 * kStreamElems * sizeof(float) / dt / 1e9);
  }
  benchmark::DoNotOptimize(dst.data());
  return best;
}

double g_peak_gflops = 0.0, g_peak_gbs = 0.0;

// The rate counters; the summary divides them by the matching peak.
void report_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
void report_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- GEMM ----

void BM_Gemm_CairnMatmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  cairn::Generator gen(1);
  Tensor a = cairn::randn({n, n}, DType::f32, &gen), b = cairn::randn({n, n}, DType::f32, &gen);
  cairn::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(cairn::matmul(a, b).raw_data());
  report_flops(state, 2.0 * n * n * n);
}

void BM_Gemm_OpenBLAS(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  cairn::Generator gen(1);
  Tensor a = cairn::randn({n, n}, DType::f32, &gen), b = cairn::randn({n, n}, DType::f32, &gen);
  Tensor c = Tensor::empty({n, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
                c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  report_flops(state, 2.0 * n * n * n);
}

// ---- conv2d: the reference CNN's layers at batch 32 ----

struct ConvLayer {
  int64_t C, O, HW;
  bool input_grad;  // conv1 sees the data batch, which needs no gradient
};
const ConvLayer kLayers[2] = {{1, 32, 28, false}, {32, 64, 13, true}};

double conv_flops(const ConvLayer& l) {
  const int64_t out = l.HW - 2;
  return 2.0 * 32 * l.O * out * out * l.C * 9;
}

void BM_Conv2d_Forward(benchmark::State& state, int layer) {
  const ConvLayer& l = kLayers[layer];
  cairn::Generator gen(2);
  Tensor x = cairn::randn({32, l.C, l.HW, l.HW}, DType::f32, &gen);
  Tensor w = cairn::randn({l.O, l.C, 3, 3}, DType::f32, &gen), b = cairn::randn({l.O}, DType::f32, &gen);
  cairn::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(cairn::conv2d(x, w, b).raw_data());
  report_flops(state, conv_flops(l));
}

void BM_Conv2d_ForwardBackward(benchmark::State& state, int layer) {
  const ConvLayer& l = kLayers[layer];
  cairn::Generator gen(2);
  Tensor x = cairn::randn({32, l.C, l.HW, l.HW}, DType::f32, &gen);
  if (l.input_grad) x.requires_grad_();
  Tensor w = cairn::randn({l.O, l.C, 3, 3}, DType::f32, &gen).requires_grad_();
  Tensor b = cairn::randn({l.O}, DType::f32, &gen).requires_grad_();
  Tensor gy = cairn::randn({32, l.O, l.HW - 2, l.HW - 2}, DType::f32, &gen);
  for (auto _ : state) {
    cairn::conv2d(x, w, b).backward(gy);
    benchmark::DoNotOptimize(w.grad().raw_data());
  }
  // Forward, weight gradient, and for conv2 the input gradient: each the forward's FLOPs.
  report_flops(state, conv_flops(l) * (l.input_grad ? 3 : 2));
}

// The two float32 conv implementations forced in turn, one part at a time, straight through the registered
// kernels: the measurements behind the automatic choice in kernels/cpu/conv_cpu.cpp (dnnl_for).
void BM_Conv2dImpl(benchmark::State& state, int layer, cairn::kernels::cpu::ConvImpl impl, int part) {
  namespace k = cairn::kernels;
  const ConvLayer& l = kLayers[layer];
  k::Conv2dGeometry g;
  g.N = 32, g.C = l.C, g.H = g.W = l.HW, g.O = l.O, g.KH = g.KW = 3, g.OH = g.OW = l.HW - 2;
  cairn::Generator gen(3);
  Tensor x = cairn::randn({32, l.C, l.HW, l.HW}, DType::f32, &gen), w = cairn::randn({l.O, l.C, 3, 3}, DType::f32, &gen);
  Tensor b = cairn::randn({l.O}, DType::f32, &gen), gy = cairn::randn({32, l.O, g.OH, g.OW}, DType::f32, &gen);
  Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
  Tensor gb = Tensor::empty({l.O});
  auto fwd = k::table<k::Conv2dKernel>("conv2d").get(cairn::DeviceType::CPU, DType::f32);
  auto bwd = k::table<k::Conv2dBackwardKernel>("conv2d_bw").get(cairn::DeviceType::CPU, DType::f32);
  k::cpu::set_conv_impl(impl);
  for (auto _ : state) {
    if (part == 0) fwd(x, w, b, y, g);
    else if (part == 1) bwd(gy, x, w, Tensor(), gw, gb, g);
    else bwd(gy, x, w, gx, Tensor(), Tensor(), g);
    benchmark::ClobberMemory();
  }
  k::cpu::set_conv_impl(k::cpu::ConvImpl::automatic);
  report_flops(state, conv_flops(l));
}

void register_conv_impl_benchmarks() {
  using cairn::kernels::cpu::ConvImpl;
  const char* layers[2] = {"conv1", "conv2"};
  const char* parts[3] = {"forward", "weight_grad", "input_grad"};
  for (int layer = 0; layer < 2; ++layer)
    for (int part = 0; part < 3; ++part)
      for (ConvImpl impl : {ConvImpl::cairn, ConvImpl::dnnl}) {
        std::string name = std::string("Conv2dImpl/") + layers[layer] + "/" + parts[part] + "/" +
                           (impl == ConvImpl::cairn ? "cairn" : "onednn");
        benchmark::RegisterBenchmark(name.c_str(), BM_Conv2dImpl, layer, impl, part)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
}

// ---- elementwise and reduction over 4M floats ----

void BM_Add(benchmark::State& state) {
  Tensor a = cairn::randn({kStreamElems}), b = cairn::randn({kStreamElems});
  for (auto _ : state) benchmark::DoNotOptimize(cairn::add(a, b).raw_data());
  report_bytes(state, 3.0 * kStreamElems * sizeof(float));
}
void BM_Relu(benchmark::State& state) {
  Tensor a = cairn::randn({kStreamElems});
  for (auto _ : state) benchmark::DoNotOptimize(cairn::relu(a).raw_data());
  report_bytes(state, 2.0 * kStreamElems * sizeof(float));
}
void BM_Gelu(benchmark::State& state) {
  Tensor a = cairn::randn({kStreamElems});
  for (auto _ : state) benchmark::DoNotOptimize(cairn::gelu(a).raw_data());
  report_bytes(state, 2.0 * kStreamElems * sizeof(float));
}
void BM_Sum(benchmark::State& state) {
  Tensor a = cairn::randn({kStreamElems});
  for (auto _ : state) benchmark::DoNotOptimize(cairn::sum(a).raw_data());
  report_bytes(state, 1.0 * kStreamElems * sizeof(float));
}

BENCHMARK(BM_Gemm_CairnMatmul)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gemm_OpenBLAS)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2d_Forward, conv1_1to32_28x28, 0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2d_Forward, conv2_32to64_13x13, 1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2d_ForwardBackward, conv1_1to32_28x28, 0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv2d_ForwardBackward, conv2_32to64_13x13, 1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Add)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Relu)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Gelu)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Sum)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The console table as usual, plus a summary (best repetition of each benchmark) once everything has run.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  explicit SummaryReporter(OutputOptions opts) : ConsoleReporter(opts) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      for (const char* unit : {"GFLOP/s", "GB/s"}) {
        auto it = r.counters.find(unit);
        if (it == r.counters.end()) continue;
        auto& best = best_[r.run_name.str()];
        if (it->second.value > best.first) best = {it->second.value, unit};

      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    // Peaks measured again at the end: a busy moment during the first measurement would inflate every share.
    g_peak_gflops = std::max(g_peak_gflops, fma_peak_gflops(kThreads));
    g_peak_gbs = std::max(g_peak_gbs, copy_bandwidth_gbs(kThreads));
    std::printf("\nSummary at %d threads (best repetition; peaks measured in this run):\n", kThreads);
    std::printf("  FP32 peak (FMA loop, all threads) %8.1f GFLOP/s\n", g_peak_gflops);
    std::printf("  copy bandwidth, 4M floats         %8.1f GB/s\n", g_peak_gbs);
    // In registration order (repetitions ran interleaved), names without the "BM_" and "/real_time" noise.
    std::vector<std::string> names;
    for (const auto& [name, best] : best_) names.push_back(name);
    auto rank = [&](const std::string& n) { return std::find(order_.begin(), order_.end(), n) - order_.begin(); };
    std::stable_sort(names.begin(), names.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    for (const std::string& name : names) {
      const auto& [value, unit] = best_[name];
      const double peak = std::string(unit) == "GB/s" ? g_peak_gbs : g_peak_gflops;
      std::string label = name.substr(name.rfind("BM_", 0) == 0 ? 3 : 0);
      if (label.size() > 10 && label.compare(label.size() - 10, 10, "/real_time") == 0) label.resize(label.size() - 10);
      std::printf("  %-46s %7.1f %-7s %5.1f%% of peak\n", label.c_str(), value, unit, 100.0 * value / peak);
    }
    auto cairn_gemm = best_.find("BM_Gemm_CairnMatmul/1024/real_time");
    auto blas_gemm = best_.find("BM_Gemm_OpenBLAS/1024/real_time");
    if (cairn_gemm != best_.end() && blas_gemm != best_.end())
      std::printf("  GEMM 1024: cairn::matmul at %.1f%% of OpenBLAS's own figure (bar: >= 90%%)\n",
                  100.0 * cairn_gemm->second.first / blas_gemm->second.first);
  }

 private:
  std::map<std::string, std::pair<double, const char*>> best_;
  // Registration order of the benchmarks (how the summary lists them).
  const std::vector<std::string> order_ = {
      "BM_Gemm_CairnMatmul/1024/real_time",
      "BM_Gemm_OpenBLAS/1024/real_time",
      "BM_Conv2d_Forward/conv1_1to32_28x28/real_time",
      "BM_Conv2d_Forward/conv2_32to64_13x13/real_time",
      "BM_Conv2d_ForwardBackward/conv1_1to32_28x28/real_time",
      "BM_Conv2d_ForwardBackward/conv2_32to64_13x13/real_time",
      "BM_Add/real_time",
      "BM_Relu/real_time",
      "BM_Gelu/real_time",
      "BM_Sum/real_time",
  };
};

}  // namespace

int main(int argc, char** argv) {
  // Three repetitions of each benchmark, interleaved in random order so that a busy moment on a shared machine
  // does not land on one benchmark's every repetition, unless the command line says otherwise.
  std::vector<char*> args(argv, argv + argc);
  std::string reps = "--benchmark_repetitions=3", interleave = "--benchmark_enable_random_interleaving=true";
  bool has_reps = false, has_interleave = false;
  for (int i = 1; i < argc; ++i) {
    has_reps |= std::strncmp(argv[i], "--benchmark_repetitions", 23) == 0;
    has_interleave |= std::strncmp(argv[i], "--benchmark_enable_random_interleaving", 38) == 0;
  }
  if (!has_reps) args.push_back(reps.data());
  if (!has_interleave) args.push_back(interleave.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  cairn::set_num_threads(kThreads);
  cairn::conv2d(cairn::zeros({1, 1, 3, 3}), cairn::zeros({1, 1, 3, 3}));  // registers kernels, selects BLAS core
  g_peak_gflops = fma_peak_gflops(kThreads);
  g_peak_gbs = copy_bandwidth_gbs(kThreads);
  std::printf("threads %d, OpenBLAS core %s, FP32 peak %.1f GFLOP/s, copy bandwidth %.1f GB/s\n", kThreads,
              openblas_get_corename ? openblas_get_corename() : "?", g_peak_gflops, g_peak_gbs);

  // Colours only on a terminal and unless --benchmark_color=false (a custom reporter does not read the flag).
  bool color = isatty(STDOUT_FILENO);
  for (int i = 1; i < argc; ++i) color &= std::strcmp(argv[i], "--benchmark_color=false") != 0;
  register_conv_impl_benchmarks();
  SummaryReporter reporter(color ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
