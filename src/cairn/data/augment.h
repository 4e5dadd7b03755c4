// Random image augmentation with the parameters of Keras's ImageDataGenerator, on float (C, H, W) tensors.
// Each call draws its parameters from the Generator it is given (the DataLoader seeds one per example), so
// results are reproducible and independent of the thread that runs them.
#pragma once
#include <string>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::data {

struct AugmentOptions {
  double rotation_range = 0;       // degrees: uniform in [-r, r]
  double width_shift_range = 0;    // fraction of the width: uniform in [-w, w] (pixels when >= 1, as Keras)
  double height_shift_range = 0;   // fraction of the height (pixels when >= 1)
  double zoom_range = 0;           // zoom uniform in [1 - z, 1 + z]
  bool horizontal_flip = false;    // flip with probability 1/2
  std::string fill_mode = "nearest";  // "nearest" | "constant" | "reflect" | "wrap", for pixels from outside
  double cval = 0;                 // the constant of fill_mode "constant"
  int crop_padding = 0;            // pad by this many pixels (zeros) then crop back at a random offset
  double brightness_delta = 0;     // add uniform in [-d, d]
  double contrast_range = 0;       // scale deviations from the mean by uniform in [1 - c, 1 + c]

  bool any() const {
    return rotation_range || width_shift_range || height_shift_range || zoom_range || horizontal_flip || crop_padding ||
           brightness_delta || contrast_range;
  }
};

// x: float32 (C, H, W) -> a new augmented (C, H, W). Throws ShapeError/DTypeError for other inputs and
// ValueError for out-of-range options (negative ranges, unknown fill_mode).
Tensor augment_image(const Tensor& x, const AugmentOptions& options, Generator& rng);

}  // namespace cairn::data
