// Streams one epoch of a token shard through data::TokenShard and data::DataLoader and reports tokens/s and
// memory. bench/shard_stream.sh runs it on a shard larger than the address-space limit it sets.
//
//   shard_stream write PATH TOKENS            writes a uint16 llm.c shard whose token p is token_at(p)
//   shard_stream read PATH [options]          one epoch of (x, y) windows of T tokens, every token checked
//     --T 1024 --batch 32 --workers 1 --access map|pread --no-shuffle --drop-cache
//
// --drop-cache asks the kernel to drop the shard's cached pages first (posix_fadvise DONTNEED on this file only),
// so the epoch reads from disk. Exit status 1 if any token read differs from token_at(p).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "cairn/core/core.h"
#include "cairn/data/loader.h"
#include "cairn/data/token_shard.h"

using namespace cairn;

namespace {

// Deterministic pseudo-random token of position p (so a reader can check every token it gets).
uint32_t token_at(uint64_t p) {
  uint64_t x = p * 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  return uint32_t(x >> 7) & 0xFFFF;
}

// Example i: x = tokens [i*T, i*T + T), y = tokens [i*T + 1, i*T + T + 1), both int32 (T). Windows do not overlap,
// so one epoch reads every token of the shard once (plus one per window).
class WindowDataset final : public data::Dataset {
 public:
  WindowDataset(std::shared_ptr<const data::TokenShard> shard, int64_t T) : shard_(std::move(shard)), T_(T) {}
  int64_t size() const override { return int64_t((shard_->size() - 1) / uint64_t(T_)); }
  data::Example get(int64_t i, Generator&) const override {
    Tensor w = Tensor::empty({T_ + 1}, DType::i32);
    shard_->read(uint64_t(i * T_), std::span<int32_t>(w.data<int32_t>(), size_t(T_ + 1)));
    return {narrow(w, 0, 0, T_), narrow(w, 0, 1, T_)};
  }

 private:
  std::shared_ptr<const data::TokenShard> shard_;
  int64_t T_;
};

std::string status_field(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return line.substr(line.find_first_not_of(" \t", std::strlen(key)));
  return "?";
}

int write_shard(const std::string& path, uint64_t tokens) {
  auto t0 = std::chrono::steady_clock::now();
  data::TokenShardWriter w(path, data::TokenDtype::U16);
  std::vector<uint32_t> chunk(1 << 20);
  for (uint64_t p = 0; p < tokens;) {
    const size_t n = size_t(std::min<uint64_t>(chunk.size(), tokens - p));
    for (size_t i = 0; i < n; ++i) chunk[i] = token_at(p + i);
    w.append(std::span<const uint32_t>(chunk.data(), n));
    p += n;
  }
  w.close();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %llu tokens, %.2f GB in %.1f s\n", path.c_str(), (unsigned long long)tokens,
              double(1024 + 2 * tokens) / 1e9, s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s write PATH TOKENS | read PATH [--T n] [--batch n] [--workers n] "
                         "[--access map|pread] [--no-shuffle] [--drop-cache]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], path = argv[2];
  if (mode == "write") return write_shard(path, std::stoull(argc > 3 ? argv[3] : "1000000"));

  int64_t T = 1024, batch = 32;
  int workers = 1;
  bool shuffle = true, drop_cache = false;
  auto access = data::MappedFile::Access::Random;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--T") T = std::stoll(next());
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--workers") workers = std::stoi(next());
    else if (a == "--access") access = next() == "pread" ? data::MappedFile::Access::Pread : data::MappedFile::Access::Random;
    else if (a == "--no-shuffle") shuffle = false;
    else if (a == "--drop-cache") drop_cache = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  set_num_threads(1);
  if (drop_cache) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
  }
  if (!shuffle && access == data::MappedFile::Access::Random) access = data::MappedFile::Access::Sequential;
  auto shard = std::make_shared<const data::TokenShard>(data::TokenShard::open(path, access));
  const bool mapped = shard->mapped();
  auto ds = std::make_shared<WindowDataset>(shard, T);
  data::DataLoader loader(ds, {.batch_size = batch, .shuffle = shuffle, .seed = 1, .num_workers = workers});
  std::printf("shard %s: %llu tokens (%.2f GB), read via %s; %lld windows of T=%lld, batch %lld, %d loader worker(s), %s\n",
              path.c_str(), (unsigned long long)shard->size(), double(shard->size() * 2) / 1e9, mapped ? "mmap" : "pread",
              (long long)ds->size(), (long long)T, (long long)batch, workers, shuffle ? "shuffled" : "in order");
  std::fflush(stdout);

  auto t0 = std::chrono::steady_clock::now();
  loader.start_epoch(0);
  data::Batch b;
  uint64_t tokens = 0, bad = 0;
  int64_t batches = 0;
  const auto& order = loader.order();
  while (loader.next(b)) {
    const Tensor x = b.fields[0].contiguous(), y = b.fields[1].contiguous();
    const int32_t* xp = x.data<int32_t>();
    const int32_t* yp = y.data<int32_t>();
    const int64_t B = x.size(0);
    for (int64_t r = 0; r < B; ++r) {
      const uint64_t start = uint64_t(order[size_t(b.index * batch + r)] * T);
      for (int64_t t = 0; t < T; ++t) {
        bad += uint32_t(xp[r * T + t]) != token_at(start + uint64_t(t));
        bad += uint32_t(yp[r * T + t]) != token_at(start + uint64_t(t) + 1);
      }
    }
    tokens += uint64_t(B * T);
    ++batches;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("epoch: %lld batches, %llu tokens in %.2f s = %.1f M tokens/s; mismatched tokens: %llu\n",
              (long long)batches, (unsigned long long)tokens, s, double(tokens) / s / 1e6, (unsigned long long)bad);
  std::printf("memory: VmPeak %s, VmHWM (peak RSS) %s, at exit RssAnon %s, RssFile %s\n", status_field("VmPeak:").c_str(),
              status_field("VmHWM:").c_str(), status_field("RssAnon:").c_str(), status_field("RssFile:").c_str());
  return bad == 0 && batches == loader.num_batches() ? 0 : 1;
}
