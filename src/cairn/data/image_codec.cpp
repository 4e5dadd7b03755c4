// PNG and JPEG decoding. Both libraries report errors by longjmp from a handler we install; the functions that
// call setjmp hold only trivially destructible state between setjmp and the library calls (the output vectors
// are owned by the caller's frame), so no C++ destructor is skipped, and the C++ exception is raised only after
// control is back in our code.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

#include "cairn/data/error.h"
#include "cairn/data/file_util.h"
#include "cairn/data/image.h"

namespace cairn::data {

namespace {

// Lives in the caller's frame: everything libpng changes after setjmp is reached through a pointer, so nothing
// the setjmp frame holds in registers is left indeterminate by the longjmp.
struct PngReadState {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
  png_structp png;
  png_infop info;
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* st = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) png_error(png, "file is truncated (read past the end of the data)");
  std::memcpy(out, st->data + st->pos, n);
  st->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// Returns "" on success, else the error. `pixels` and the dims are written only through pointers.
const char* decode_png_into(PngReadState& st, int64_t max_pixels, std::vector<uint8_t>& pixels,
                            std::vector<png_bytep>& rows, int* h, int* w, int* c) {
  st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_on_error, png_on_warning);
  if (!st.png) return "libpng could not allocate its state";
  st.info = png_create_info_struct(st.png);
  if (!st.info) {
    png_destroy_read_struct(&st.png, nullptr, nullptr);
    return "libpng could not allocate its state";
  }
  if (setjmp(png_jmpbuf(st.png))) {
    png_destroy_read_struct(&st.png, &st.info, nullptr);
    return st.message;
  }
  png_structp png = st.png;
  png_infop info = st.info;
  png_set_read_fn(png, &st, png_read_mem);
  png_set_user_limits(png, 1u << 20, 1u << 20);
  png_read_info(png, info);
  png_uint_32 width = png_get_image_width(png, info);
  png_uint_32 height = png_get_image_height(png, info);
  if (int64_t(width) * int64_t(height) > max_pixels) {
    std::snprintf(st.message, sizeof st.message, "image of %u x %u pixels exceeds the limit of %lld pixels", width,
                  height, static_cast<long long>(max_pixels));
    png_destroy_read_struct(&st.png, &st.info, nullptr);
    return st.message;
  }
  png_set_expand(png);  // palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha
  png_set_strip_16(png);
  png_set_packing(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  if (channels < 1 || channels > 4 || rowbytes != size_t(width) * size_t(channels)) {
    png_destroy_read_struct(&st.png, &st.info, nullptr);
    return "unsupported PNG pixel layout";
  }
  pixels.resize(size_t(height) * rowbytes);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.data() + size_t(y) * rowbytes;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&st.png, &st.info, nullptr);
  *h = int(height);
  *w = int(width);
  *c = channels;
  return nullptr;
}

// Lives in the caller's frame, like PngReadState; `mgr` must stay the first member (libjpeg hands it back as
// cinfo->err and we cast it to the whole state).
struct JpegErrorState {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
  jpeg_decompress_struct cinfo;
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, st->message);
  std::longjmp(st->jump, 1);
}

void jpeg_on_message(j_common_ptr cinfo, int level) {
  // Warnings (level -1) are not printed; a premature end of data means the file is truncated, which libjpeg
  // would otherwise paper over with grey pixels.
  auto* st = reinterpret_cast<JpegErrorState*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) st->truncated = true;
}

void jpeg_no_output(j_common_ptr) {}

const char* decode_jpeg_into(JpegErrorState& st, std::span<const uint8_t> bytes, int64_t max_pixels,
                             std::vector<uint8_t>& pixels, int* h, int* w, int* c) {
  jpeg_decompress_struct& cinfo = st.cinfo;
  cinfo.err = jpeg_std_error(&st.mgr);
  st.mgr.error_exit = jpeg_on_error;
  st.mgr.emit_message = jpeg_on_message;
  st.mgr.output_message = jpeg_no_output;
  if (setjmp(st.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return st.message;
  }
  jpeg_create_decompress(&cinfo);
  if (bytes.empty()) {
    jpeg_destroy_decompress(&cinfo);
    return "empty file";
  }
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (int64_t(cinfo.image_width) * int64_t(cinfo.image_height) > max_pixels) {
    std::snprintf(st.message, sizeof st.message, "image of %u x %u pixels exceeds the limit of %lld pixels",
                  cinfo.image_width, cinfo.image_height, static_cast<long long>(max_pixels));
    jpeg_destroy_decompress(&cinfo);
    return st.message;
  }
  const bool is_cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = is_cmyk ? JCS_CMYK : cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int comps = cinfo.output_components;
  const size_t stride = size_t(cinfo.output_width) * size_t(comps);
  pixels.resize(stride * cinfo.output_height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + size_t(cinfo.output_scanline) * stride;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
  }
  *h = int(cinfo.output_height);
  *w = int(cinfo.output_width);
  const bool adobe_inverted = cinfo.saw_Adobe_marker;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (st.truncated) return "file is truncated (premature end of JPEG data)";
  if (is_cmyk) {
    // CMYK -> RGB: R = C*K/255 for Adobe's inverted CMYK (what Photoshop writes), (255-C)*(255-K)/255 otherwise.
    const size_t n = size_t(*h) * size_t(*w);
    for (size_t i = 0; i < n; ++i) {
      int k = pixels[4 * i + 3];
      for (int ch = 0; ch < 3; ++ch) {
        int v = pixels[4 * i + size_t(ch)];
        pixels[3 * i + size_t(ch)] = uint8_t(adobe_inverted ? (v * k + 127) / 255 : ((255 - v) * (255 - k) + 127) / 255);
      }
    }
    pixels.resize(n * 3);
    *c = 3;
  } else {
    *c = comps;
  }
  return nullptr;
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const std::string& name, DecodeLimits limits) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0) {
    throw DataError::at_byte(name, 0, "not a PNG file (bad signature).");
  }
  Image img;
  std::vector<png_bytep> rows;
  PngReadState st{bytes.data(), bytes.size(), 0, {0}, nullptr, nullptr};
  const char* err = decode_png_into(st, limits.max_pixels, img.pixels, rows, &img.height, &img.width, &img.channels);
  if (err) throw DataError::in_file(name, std::string("corrupt PNG: ") + err + ". Re-export or remove the file.");
  return img;
}

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name, DecodeLimits limits) {
  Image img;
  JpegErrorState st;
  std::memset(&st, 0, sizeof st);
  const char* err = decode_jpeg_into(st, bytes, limits.max_pixels, img.pixels, &img.height, &img.width, &img.channels);
  if (err) throw DataError::in_file(name, std::string("corrupt JPEG: ") + err + ". Re-export or remove the file.");
  return img;
}

Image decode_image(std::span<const uint8_t> bytes, const std::string& name, DecodeLimits limits) {
  if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return decode_png(bytes, name, limits);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(bytes, name, limits);
  throw DataError::at_byte(name, 0, "unknown image format (neither PNG nor JPEG magic bytes). Convert it to PNG or JPEG.");
}

Image load_image(const std::filesystem::path& path, DecodeLimits limits) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes, path.string(), limits);
}

}  // namespace cairn::data
