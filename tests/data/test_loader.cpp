// Datasets, the DataLoader and augmentation: composition, splits, padding, and determinism across workers.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cairn/core/core.h"
#include "cairn/data/augment.h"
#include "cairn/data/dataset.h"
#include "cairn/data/loader.h"

using namespace cairn;
using namespace cairn::data;

namespace {
std::shared_ptr<Dataset> images(int64_t n) {
  Generator g(1);
  Tensor x = uniform({n, 1, 8, 8}, 0, 1, DType::f32, &g);
  Tensor y = arange(0, static_cast<double>(n), 1, DType::i64);
  return std::make_shared<TensorDataset>(std::vector<Tensor>{x, y});
}

std::vector<std::vector<float>> run_epoch(std::shared_ptr<const Dataset> ds, int workers, int64_t epoch) {
  DataLoader loader(ds, {.batch_size = 7, .shuffle = true, .seed = 42, .num_workers = workers});
  loader.start_epoch(epoch);
  std::vector<std::vector<float>> out;
  Batch b;
  while (loader.next(b)) {
    out.push_back(b.fields[0].to_vector<float>());
    auto ids = b.fields[1].to_vector<float>();
    out.back().insert(out.back().end(), ids.begin(), ids.end());
  }
  return out;
}
}  // namespace

TEST(Loader, EveryExampleOncePerEpochInSeededOrder) {
  auto ds = images(50);
  DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 3, .num_workers = 2});
  EXPECT_EQ(loader.num_batches(), 7);
  std::vector<int64_t> e0, e1;
  for (int64_t epoch : {0, 1}) {
    loader.start_epoch(epoch);
    Batch b;
    int64_t k = 0;
    while (loader.next(b)) {
      EXPECT_EQ(b.index, k++);
      for (int64_t id : b.fields[1].to_vector<int64_t>()) (epoch ? e1 : e0).push_back(id);
    }
  }
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 50u);
  EXPECT_EQ(e0.size(), 50u);
  EXPECT_NE(e0, e1);  // a new permutation each epoch
}

TEST(Loader, SameBatchesWhateverTheNumberOfWorkers) {
  AugmentOptions aug;
  aug.rotation_range = 15;
  aug.width_shift_range = 0.1;
  aug.height_shift_range = 0.1;
  aug.zoom_range = 0.1;
  aug.horizontal_flip = true;
  aug.brightness_delta = 0.1;
  auto ds = std::make_shared<MapDataset>(images(40), [aug](Example e, Generator& g) {
    e[0] = augment_image(e[0], aug, g);
    return e;
  });
  auto ref = run_epoch(ds, 0, 2);
  for (int w : {1, 2, 3}) EXPECT_EQ(run_epoch(ds, w, 2), ref) << w << " workers";
  EXPECT_NE(run_epoch(ds, 2, 3), ref);  // another epoch, other augmentations
}

TEST(Loader, ResumesMidEpoch) {
  auto ds = images(30);
  DataLoader a(ds, {.batch_size = 4, .seed = 9, .num_workers = 2}), b(ds, {.batch_size = 4, .seed = 9, .num_workers = 1});
  a.start_epoch(1);
  b.start_epoch(1, 3);
  Batch x, y;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.next(x));
  while (a.next(x)) {
    ASSERT_TRUE(b.next(y));
    EXPECT_EQ(x.index, y.index);
    EXPECT_EQ(x.fields[1].to_vector<int64_t>(), y.fields[1].to_vector<int64_t>());
  }
  EXPECT_FALSE(b.next(y));
}

TEST(Loader, PadsVariableLengthSequences) {
  Example a{from_vector<int64_t>({1, 2, 3})}, b{from_vector<int64_t>({4})};
  Batch batch = collate({a, b}, 0);
  EXPECT_EQ(batch.fields[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(batch.fields[0].to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(batch.lengths[0], (std::vector<int64_t>{3, 1}));
  Example c{zeros({2, 3})}, d{zeros({2, 4})};
  EXPECT_THROW(collate({c, d}), ShapeError);
}

TEST(Loader, WorkerErrorsReachTheConsumer) {
  auto ds = std::make_shared<MapDataset>(images(10), [](Example e, Generator&) -> Example {
    if (e[1].item() == 7) throw ValueError("bad example 7");
    return e;
  });
  DataLoader loader(ds, {.batch_size = 2, .shuffle = false, .num_workers = 2});
  loader.start_epoch(0);
  Batch b;
  EXPECT_THROW({ while (loader.next(b)) {} }, ValueError);
}

TEST(Datasets, StratifiedSplitKeepsClassBalance) {
  std::vector<int64_t> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i < 80 ? 0 : 1);
  auto parts = split_indices(100, {0.9, 0.1}, 5, &labels);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].size() + parts[1].size(), 100u);
  int ones = 0;
  for (int64_t i : parts[1]) ones += labels[i];
  EXPECT_EQ(parts[1].size(), 10u);
  EXPECT_EQ(ones, 2);  // 20% of the validation part, as in the whole
}

TEST(Datasets, OverAndUnderSampling) {
  std::vector<int64_t> labels{0, 0, 0, 0, 1};
  auto over = oversample_indices(labels, 1);
  EXPECT_EQ(over.size(), 8u);
  auto under = undersample_indices(labels, 1);
  EXPECT_EQ(under.size(), 2u);
  std::multiset<int64_t> cls;
  for (int64_t i : under) cls.insert(labels[i]);
  EXPECT_EQ(cls.count(0), 1u);
}

TEST(Datasets, ConcatSubsetRepeat) {
  auto a = images(5), b = images(3);
  ConcatDataset c({a, b});
  Generator g;
  EXPECT_EQ(c.size(), 8);
  EXPECT_EQ(c.get(6, g)[1].item(), 1);
  SubsetDataset s(a, {4, 0});
  EXPECT_EQ(s.get(0, g)[1].item(), 4);
  RepeatDataset r(b, 2);
  EXPECT_EQ(r.size(), 6);
  EXPECT_EQ(r.get(4, g)[1].item(), 1);
  EXPECT_THROW(c.get(8, g), IndexError);
}

// Automatic workers: none for tensors in memory (a batch is one gather), one when examples are transformed.
TEST(Loader, AutomaticWorkersFollowTheDataset) {
  auto ds = images(10);
  EXPECT_EQ(DataLoader(ds, {.batch_size = 4}).num_workers(), 0);
  auto mapped = std::make_shared<MapDataset>(ds, [](Example e, Generator&) { return e; });
  EXPECT_EQ(DataLoader(mapped, {.batch_size = 4}).num_workers(), 1);
  EXPECT_EQ(DataLoader(ds, {.batch_size = 4, .num_workers = 2}).num_workers(), 2);
  EXPECT_THROW(DataLoader(ds, {.batch_size = 4, .num_workers = -2}), ValueError);
}

// The one-pass gather (TensorDataset, and a subset of one) gives exactly the stacked examples, dtypes and all.
TEST(Datasets, GetRowsEqualsStackingEachExample) {
  auto a = images(9);
  SubsetDataset s(a, {8, 2, 5, 0});
  Generator g;
  const std::vector<int64_t> idx{3, 0, 3, 1};
  a->prefetch_rows(idx);  // only a hint; must change nothing
  for (const Dataset* ds : {static_cast<const Dataset*>(a.get()), static_cast<const Dataset*>(&s)}) {
    auto rows = ds->get_rows(idx);
    ASSERT_TRUE(rows.has_value());
    std::vector<Example> ex;
    for (int64_t i : idx) ex.push_back(ds->get(i, g));
    Batch stacked = collate(ex);
    ASSERT_EQ(rows->size(), stacked.fields.size());
    for (size_t f = 0; f < rows->size(); ++f) {
      EXPECT_EQ((*rows)[f].shape(), stacked.fields[f].shape());
      EXPECT_EQ((*rows)[f].dtype(), stacked.fields[f].dtype());
      EXPECT_EQ((*rows)[f].to_vector<double>(), stacked.fields[f].to_vector<double>());
    }
  }
  EXPECT_THROW(s.get_rows(std::vector<int64_t>{4}), IndexError);
  EXPECT_THROW(a->get_rows(std::vector<int64_t>{-1}), IndexError);
  s.prefetch_rows(std::vector<int64_t>{0, 3, 99, -1});  // out-of-range indices are ignored
  // A dataset with per-example work has no one-pass gather.
  MapDataset m(a, [](Example e, Generator&) { return e; });
  EXPECT_FALSE(m.get_rows(idx).has_value());
}

// The warp's fast interior path against the plain per-pixel formula (rotation, shift, zoom about the center,
// bilinear, the fill mode for neighbours outside), with the parameters drawn in augment_image's order.
static std::vector<float> reference_affine(const Tensor& x, const AugmentOptions& o, Generator g) {
  const int64_t H = x.size(1), W = x.size(2);
  const double theta = (g.uniform() * 2 - 1) * o.rotation_range * M_PI / 180.0;
  const double tx = (g.uniform() * 2 - 1) * o.height_shift_range * double(H);
  const double ty = (g.uniform() * 2 - 1) * o.width_shift_range * double(W);
  const double zx = 1 + (g.uniform() * 2 - 1) * o.zoom_range, zy = 1 + (g.uniform() * 2 - 1) * o.zoom_range;
  const double oy = (double(H) - 1) / 2, ox = (double(W) - 1) / 2;
  auto src = x.to_vector<float>();
  auto pixel = [&](int64_t i, int64_t j) -> double {
    auto fix = [&](int64_t k, int64_t n) -> int64_t {
      if (k >= 0 && k < n) return k;
      if (o.fill_mode == "nearest") return k < 0 ? 0 : n - 1;
      if (o.fill_mode == "constant") return -1;
      if (o.fill_mode == "reflect") {
        const int64_t m = ((k % (2 * n)) + 2 * n) % (2 * n);
        return m < n ? m : 2 * n - 1 - m;
      }
      return ((k % n) + n) % n;
    };
    i = fix(i, H);
    j = fix(j, W);
    return i < 0 || j < 0 ? o.cval : src[size_t(i * W + j)];
  };
  std::vector<float> out(size_t(H * W));
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c) {
      const double yr = double(r) - oy, xr = double(c) - ox;
      const double sy = std::cos(theta) * zx * yr - std::sin(theta) * zy * xr + oy + tx;
      const double sx = std::sin(theta) * zx * yr + std::cos(theta) * zy * xr + ox + ty;
      const int64_t y0 = int64_t(std::floor(sy)), x0 = int64_t(std::floor(sx));
      const double wy = sy - double(y0), wx = sx - double(x0);
      out[size_t(r * W + c)] = float((1 - wy) * (1 - wx) * pixel(y0, x0) + (1 - wy) * wx * pixel(y0, x0 + 1) +
                                     wy * (1 - wx) * pixel(y0 + 1, x0) + wy * wx * pixel(y0 + 1, x0 + 1));
    }
  return out;
}

TEST(Augment, AffineWarpMatchesThePerPixelFormula) {
  Generator gx(3);
  Tensor x = uniform({1, 28, 28}, 0, 1, DType::f32, &gx);
  for (const char* fill : {"nearest", "constant", "reflect", "wrap"}) {
    for (double scale : {1.0, 4.0}) {  // Keras's reference ranges, and large ones that sample far outside
      AugmentOptions o;
      o.rotation_range = 10 * scale;
      o.width_shift_range = 0.1 * scale;
      o.height_shift_range = 0.1 * scale;
      o.zoom_range = 0.1 * scale > 0.9 ? 0.9 : 0.1 * scale;
      o.fill_mode = fill;
      o.cval = 0.25;
      for (uint64_t seed = 0; seed < 20; ++seed) {
        Generator g(seed);
        const std::vector<float> want = reference_affine(x, o, g);
        const std::vector<float> got = augment_image(x, o, g).to_vector<float>();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-5) << fill << " scale " << scale << " seed " << seed << " pixel " << i;
      }
    }
  }
}

TEST(Augment, IdentityWhenOff) {
  Generator g(1);
  Tensor x = uniform({1, 6, 6}, 0, 1, DType::f32, &g);
  Tensor y = augment_image(x, {}, g);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  AugmentOptions flip;
  flip.horizontal_flip = true;
  // Over a few draws a flip happens and mirrors the columns exactly.
  bool flipped = false;
  for (int i = 0; i < 10 && !flipped; ++i) {
    Tensor z = augment_image(x, flip, g);
    flipped = z.to_vector<float>() != x.to_vector<float>();
    if (flipped) {
      EXPECT_EQ(z.select(2, 0).to_vector<float>(), x.select(2, 5).to_vector<float>());
    }
  }
  EXPECT_TRUE(flipped);
  AugmentOptions bad;
  bad.fill_mode = "mirror";
  EXPECT_THROW(augment_image(x, bad, g), ValueError);
}
