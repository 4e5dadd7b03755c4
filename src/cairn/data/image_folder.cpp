// Keras-style image folders: <dir>/<class>/**/*.{png,jpg,jpeg}.
#include <algorithm>
#include <cctype>
#include <system_error>

#include "cairn/data/error.h"
#include "cairn/data/image.h"

namespace cairn::data {

namespace {

bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::filesystem::path> list_images(const std::filesystem::path& class_dir, bool follow_links) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  std::error_code ec;
  auto opts = follow_links ? fs::directory_options::follow_directory_symlink : fs::directory_options::none;
  fs::recursive_directory_iterator it(class_dir, opts | fs::directory_options::skip_permission_denied, ec);
  if (ec) throw DataError::in_file(class_dir.string(), "cannot list folder: " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw DataError::in_file(class_dir.string(), "cannot list folder: " + ec.message());
    std::error_code fec;
    if (it->is_regular_file(fec) && is_image_file(it->path())) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return files;
}

}  // namespace

ImageFolderDataset load_image_folder(const std::filesystem::path& dir, const ImageFolderOptions& opt) {
  namespace fs = std::filesystem;
  if (opt.channels != 1 && opt.channels != 3 && opt.channels != 4) {
    throw DataError::in_file(dir.string(), "ImageFolderOptions::channels must be 1, 3 or 4.");
  }
  if ((opt.height == 0) != (opt.width == 0) || opt.height < 0 || opt.width < 0) {
    throw DataError::in_file(dir.string(), "set both ImageFolderOptions::height and width (or neither).");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError::in_file(dir.string(), "not a folder. Pass a folder with one subfolder of images per class.");
  }
  ImageFolderDataset ds;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dec;
    if (it->is_directory(dec)) ds.class_names.push_back(it->path().filename().string());
  }
  if (ec) throw DataError::in_file(dir.string(), "cannot list folder: " + ec.message());
  std::sort(ds.class_names.begin(), ds.class_names.end());
  if (ds.class_names.empty()) {
    throw DataError::in_file(dir.string(), "has no subfolders. Put the images of each class in a subfolder named after the class.");
  }
  int h = opt.height, w = opt.width;
  std::string first_file;
  std::vector<int64_t> labels;
  std::vector<uint8_t> pixels;
  for (size_t k = 0; k < ds.class_names.size(); ++k) {
    for (const fs::path& file : list_images(dir / ds.class_names[k], opt.follow_links)) {
      Image img = convert_channels(load_image(file, opt.limits), opt.channels);
      if (opt.height > 0) {
        img = resize_bilinear(img, opt.height, opt.width);
      } else if (h == 0) {
        h = img.height;
        w = img.width;
        first_file = file.string();
      } else if (img.height != h || img.width != w) {
        throw DataError::in_file(file.string(), "image is " + std::to_string(img.height) + "x" + std::to_string(img.width) +
                                                    " but " + first_file + " is " + std::to_string(h) + "x" +
                                                    std::to_string(w) + ". Set ImageFolderOptions::height and width to resize.");
      }
      pixels.insert(pixels.end(), img.pixels.begin(), img.pixels.end());
      labels.push_back(int64_t(k));
      ds.files.push_back(file.string());
    }
  }
  if (labels.empty()) {
    throw DataError::in_file(dir.string(), "no .png/.jpg/.jpeg files in its class subfolders.");
  }
  const int64_t n = int64_t(labels.size());
  ds.images = {{n, h, w, opt.channels}, std::move(pixels)};
  ds.labels = {{n}, std::move(labels)};
  return ds;
}

}  // namespace cairn::data
