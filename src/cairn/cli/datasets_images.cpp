// Image kinds of the `data:` section: fashion_mnist, idx, image_folder; and predict's image inputs.
#include <cstring>
#include <filesystem>

#include "cairn/cli/datasets_detail.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/idx.h"
#include "cairn/data/image.h"

namespace cairn::cli::detail_data {
namespace {

Tensor u8_tensor(const data::Array<uint8_t>& a) {
  Tensor t = Tensor::empty(Shape(a.shape.begin(), a.shape.end()), DType::u8);
  std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

Tensor i64_labels(const data::Array<int64_t>& a) { return from_vector(a.data, Shape(a.shape.begin(), a.shape.end())); }

// (N, H, W, C) uint8 -> (N, C, H, W) uint8
Tensor nhwc_to_nchw(const Tensor& t) { return permute(t, {0, 3, 1, 2}).contiguous(); }

bool has_image_magic(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

}  // namespace

void load_image_kind(const Config& d, const std::string& kind, const SplitSpec& split, LoadedData& out) {
  if (kind == "fashion_mnist") check_kind_keys(d, kind, {"path", "scale", "shift"});
  else if (kind == "idx") check_kind_keys(d, kind, {"images", "labels", "test_images", "test_labels", "scale", "shift"});
  else check_kind_keys(d, kind, {"path", "test_path", "size", "channels", "scale", "shift", "follow_links"});
  out.preprocess = {{"kind", "images"}, {"scale", d.get<double>("scale", 1.0 / 255.0)}, {"shift", d.get<double>("shift", 0.0)}};
  const int64_t limit = d.get<int64_t>("limit", 0);
  auto take = [&](Tensor t) { return limit > 0 && t.size(0) > limit ? narrow(t, 0, 0, limit).contiguous() : t; };
  Tensor x, y, xt, yt;  // raw (N, C, H, W) uint8 and labels, before the split
  if (kind == "fashion_mnist") {
    auto fm = data::load_fashion_mnist(d.get<std::string>("path", "/usr/share/datasets/fashion-mnist"));
    x = take(u8_tensor(fm.train.images));
    y = take(i64_labels(fm.train.labels));
    xt = take(u8_tensor(fm.test.images));
    yt = take(i64_labels(fm.test.labels));
    out.class_names = fm.class_names;
    out.description = "Fashion-MNIST";
    out.preprocess["channels"] = 1;
  } else if (kind == "idx") {
    auto load_pair = [&](const std::string& ik, const std::string& lk, Tensor& xi, Tensor& yi) {
      auto images = data::load_idx(d.require<std::string>(ik));
      auto labels = data::load_idx(d.require<std::string>(lk));
      xi = take(u8_tensor(images.to_u8()));
      yi = take(i64_labels(labels.to_int64()));
      CAIRN_CHECK(xi.size(0) == yi.size(0), ValueError, d.where(lk), ": ", xi.size(0), " images but ", yi.size(0), " labels");
    };
    load_pair("images", "labels", x, y);
    if (d.has("test_images")) load_pair("test_images", "test_labels", xt, yt);
    out.description = "IDX " + d.require<std::string>("images");
  } else {
    data::ImageFolderOptions o;
    o.channels = d.get<int>("channels", 3);
    if (o.channels != 1 && o.channels != 3 && o.channels != 4) d.fail("channels must be 1, 3 or 4", "channels");
    if (d.has("size")) {
      auto s = d.node()["size"].IsSequence() ? d.get<std::vector<int>>("size", {}) : std::vector<int>(2, d.get<int>("size", 0));
      if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) d.fail("size must be [height, width] or one positive integer", "size");
      o.height = s[0];
      o.width = s[1];
    }
    o.follow_links = d.get<bool>("follow_links", false);
    auto load_dir = [&](const std::string& key, Tensor& xi, Tensor& yi, std::vector<std::string>& names) {
      auto f = data::load_image_folder(d.require<std::string>(key), o);
      xi = nhwc_to_nchw(u8_tensor(f.images));
      yi = i64_labels(f.labels);
      names = f.class_names;
      if (limit > 0 && xi.size(0) > limit) {
        // Files come grouped by class: a seeded sample keeps every class.
        auto keep = plan_split(xi.size(0), yi.to_vector<int64_t>(),
                               {1.0 - double(limit) / double(xi.size(0)), 0, true, out.seed})[0];
        xi = take_rows(xi.to(DType::f32), keep).to(DType::u8);
        yi = take_rows(yi, keep);
      }
    };
    load_dir("path", x, y, out.class_names);
    if (d.has("test_path")) {
      std::vector<std::string> test_names;
      load_dir("test_path", xt, yt, test_names);
      if (test_names != out.class_names)
        d.fail("the class folders of test_path differ from those of path (they must name the same classes)", "test_path");
    }
    out.description = "image folder " + d.require<std::string>("path");
    out.preprocess["channels"] = o.channels;
    if (o.height > 0) out.preprocess["size"] = {o.height, o.width};
  }
  if (xt.defined() && split.test > 0)
    d.fail("split.test: this dataset has its own test files; remove split.test or the test files", "split");

  Tensor xf = preprocess_images(x, out.preprocess);
  auto parts = plan_split(xf.size(0), y.to_vector<int64_t>(), split);
  if (split.validation > 0 || split.test > 0) {
    out.x_train = take_rows(xf, parts[0]);
    out.y_train = take_rows(y, parts[0]);
    out.x_val = take_rows(xf, parts[1]);
    out.y_val = take_rows(y, parts[1]);
    out.x_test = take_rows(xf, parts[2]);
    out.y_test = take_rows(y, parts[2]);
  } else {
    out.x_train = xf;
    out.y_train = y;
  }
  if (xt.defined()) {
    out.x_test = preprocess_images(xt, out.preprocess);
    out.y_test = yt;
  }
  out.report += out.description + ": " + std::to_string(x.size(0)) + " images " + shape_str(x.shape()) +
                (xt.defined() ? " + " + std::to_string(xt.size(0)) + " test images" : "") + "\n";
  out.report += split_line(out.x_train.size(0), out.x_val.defined() ? out.x_val.size(0) : 0,
                           out.x_test.defined() ? out.x_test.size(0) : 0);
}

Tensor image_inputs(const std::string& path, const nlohmann::json& pp) {
  Tensor raw;
  if (has_image_magic(path)) {
    data::Image img = data::load_image(path);
    const int channels = pp.value("channels", img.channels == 2 || img.channels == 4 ? img.channels - 1 : img.channels);
    if (img.channels != channels) img = data::convert_channels(img, channels);
    if (pp.contains("size")) img = data::resize_bilinear(img, pp["size"][0].get<int>(), pp["size"][1].get<int>());
    data::Array<uint8_t> a{{1, img.height, img.width, img.channels}, std::move(img.pixels)};
    raw = nhwc_to_nchw(u8_tensor(a));
  } else {
    raw = u8_tensor(data::load_idx(path).to_u8());
    if (raw.dim() == 2) raw = unsqueeze(raw, 0);  // a single image
  }
  return preprocess_images(raw, pp);
}

}  // namespace cairn::cli::detail_data
