// Fashion-MNIST loader on top of the IDX reader.
#include <system_error>

#include "cairn/data/error.h"
#include "cairn/data/idx.h"

namespace cairn::data {

namespace {

std::filesystem::path find_member(const std::filesystem::path& dir, const std::string& stem) {
  std::error_code ec;
  for (const char* suffix : {".gz", ""}) {
    std::filesystem::path p = dir / (stem + suffix);
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  throw DataError::in_file((dir / (stem + ".gz")).string(),
                           "Fashion-MNIST not found in " + dir.string() +
                               ": install it with `sudo apt-get install dataset-fashion-mnist`"
                               " (or pass the folder that holds " + stem + ".gz).");
}

ImageLabelSplit load_split(const std::filesystem::path& dir, const std::string& prefix) {
  std::filesystem::path images_path = find_member(dir, prefix + "-images-idx3-ubyte");
  std::filesystem::path labels_path = find_member(dir, prefix + "-labels-idx1-ubyte");
  IdxArray images = load_idx(images_path);
  IdxArray labels = load_idx(labels_path);
  if (images.dtype != IdxDtype::U8 || images.shape.size() != 3 || images.shape[1] != 28 || images.shape[2] != 28) {
    throw DataError::in_file(images_path.string(), std::string("expected ubyte images of shape (N, 28, 28), found ") +
                                                       idx_dtype_name(images.dtype) + " " + shape_to_string(images.shape) +
                                                       ". This is not a Fashion-MNIST image file.");
  }
  if (labels.dtype != IdxDtype::U8 || labels.shape.size() != 1) {
    throw DataError::in_file(labels_path.string(), std::string("expected ubyte labels of shape (N,), found ") +
                                                       idx_dtype_name(labels.dtype) + " " + shape_to_string(labels.shape) +
                                                       ". This is not a Fashion-MNIST label file.");
  }
  if (labels.shape[0] != images.shape[0]) {
    throw DataError::in_file(labels_path.string(), "has " + std::to_string(labels.shape[0]) + " labels but " +
                                                       images_path.string() + " has " + std::to_string(images.shape[0]) +
                                                       " images. The two files do not belong together.");
  }
  ImageLabelSplit split;
  split.images = images.to_u8();
  split.labels = labels.to_int64();
  for (size_t i = 0; i < split.labels.data.size(); ++i) {
    if (split.labels.data[i] >= 10) {
      throw DataError::at_byte(labels_path.string(), int64_t(8 + i),
                               "label " + std::to_string(split.labels.data[i]) + " of item " + std::to_string(i) +
                                   " is outside [0, 10). The label file is corrupt.");
    }
  }
  return split;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::filesystem::path& dir) {
  FashionMnist out;
  out.train = load_split(dir, "train");
  out.test = load_split(dir, "t10k");
  out.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return out;
}

}  // namespace cairn::data
