// libFuzzer target for the CSV reader. The first byte picks the options (delimiter, bad-row policy, header,
// label column, thread count), the rest is the file. Contract: a consistent Table and report, or DataError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cairn/data/csv.h"
#include "cairn/data/error.h"

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  cairn::data::CsvOptions opt;
  const char delimiters[] = {',', ';', '\t', '|'};
  opt.delimiter = delimiters[mode & 3];
  opt.bad_rows = static_cast<cairn::data::BadRowPolicy>((mode >> 2) % 3);
  opt.header = (mode & 0x10) == 0;
  opt.infer_rows = (mode & 0x20) ? 2 : 10000;
  if (mode & 0x40) opt.label_column = opt.header ? "label" : "column_0";
  if (mode & 0x80) opt.label_classes = {"a", "b"};
  opt.threads = 2;  // chunking only kicks in above 2 MB, so this mostly checks that small inputs stay single
  try {
    cairn::data::CsvResult r = cairn::data::parse_csv(text, opt, "fuzz.csv");
    r.table.check_consistent();
    require(r.report.rows_kept == int64_t(r.table.rows()));
    require(r.report.rows_kept + r.report.rows_skipped == r.report.rows_read);
    (void)r.report.to_string();
    try {
      (void)r.table.to_matrix();
      if (!r.table.label.empty()) (void)r.table.labels();
    } catch (const cairn::data::DataError&) {
    }
  } catch (const cairn::data::DataError&) {
  }
  return 0;
}
