// CSV parsing throughput on a ~500 MB numeric file (generated once in /tmp, reused afterwards).
//
//   build/bench/bench_csv                     # MB/s for 1 thread and for all threads
//   CAIRN_BENCH_CSV=/path/to/file.csv build/bench/bench_csv
//
// The figure reported is bytes of CSV per second of read_csv (mmap + parse into float columns), with the file
// already in the page cache (the first run generates it, which warms the cache).
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "cairn/data/csv.h"
#include "cairn/data/file_util.h"

namespace {

// 12 columns: 10 floats with 6 decimals, an integer and a small integer label, about 95 bytes per row.
std::string bench_file() {
  if (const char* env = std::getenv("CAIRN_BENCH_CSV")) return env;
  std::string path = "/tmp/cairn_bench_numeric.csv";
  const uint64_t target = 500ull << 20;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) >= target) return path;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-100.0, 100.0);
  std::string buf;
  buf.reserve(1 << 22);
  cairn::data::AtomicFileWriter out(path);
  for (int c = 0; c < 10; ++c) buf.append("f").append(std::to_string(c)).append(",");
  buf += "count,label\n";
  char num[64];
  while (out.bytes_written() + buf.size() < target) {
    for (int c = 0; c < 10; ++c) {
      auto r = std::to_chars(num, num + sizeof num, u(rng), std::chars_format::fixed, 6);
      buf.append(num, r.ptr);
      buf += ',';
    }
    buf += std::to_string(rng() % 100000);
    buf += ',';
    buf += std::to_string(rng() % 10);
    buf += '\n';
    if (buf.size() > (1 << 22) - 256) {
      out.write(buf.data(), buf.size());
      buf.clear();
    }
  }
  out.write(buf.data(), buf.size());
  out.commit();
  return path;
}

void BM_ReadNumericCsv(benchmark::State& state) {
  std::string path = bench_file();
  cairn::data::CsvOptions opt;
  opt.threads = int(state.range(0));
  opt.label_column = "label";
  int64_t rows = 0;
  for (auto _ : state) {
    cairn::data::CsvResult r = cairn::data::read_csv(path, opt);
    rows = int64_t(r.table.rows());
    benchmark::DoNotOptimize(r.table.columns.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(std::filesystem::file_size(path)));
  state.counters["rows"] = double(rows);
}
BENCHMARK(BM_ReadNumericCsv)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(3)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
