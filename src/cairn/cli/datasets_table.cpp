// The `csv` kind of the `data:` section: read with a bad-row policy, split, clean (fitted on the training split),
// encode categorical columns; and predict's CSV inputs with the recorded transform.
#include <fstream>

#include "cairn/cli/datasets_detail.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/clean.h"
#include "cairn/data/csv.h"
#include "cairn/data/error.h"

namespace cairn::cli::detail_data {
namespace {

using nlohmann::json;

data::ColumnType parse_type(const Config& where, const std::string& key, const std::string& t) {
  if (t == "float" || t == "number" || t == "numeric") return data::ColumnType::Float;
  if (t == "int" || t == "integer") return data::ColumnType::Int;
  if (t == "categorical" || t == "category" || t == "string" || t == "text") return data::ColumnType::Categorical;
  where.fail("column '" + key + "': unknown type '" + t + "'; valid types: float, int, categorical", key);
}

data::ColumnType type_from_name(const std::string& t) {
  return t == "float" ? data::ColumnType::Float : t == "int" ? data::ColumnType::Int : data::ColumnType::Categorical;
}

data::ImputeStrategy parse_strategy(const Config& c, const std::string& key, const std::string& s) {
  if (s == "mean") return data::ImputeStrategy::Mean;
  if (s == "median") return data::ImputeStrategy::Median;
  if (s == "mode" || s == "most_frequent") return data::ImputeStrategy::Mode;
  if (s == "constant") return data::ImputeStrategy::Constant;
  c.fail("unknown strategy '" + s + "'; valid: mean, median, mode, constant", key);
}

// One entry of `clean:`, e.g. `- impute: {strategy: median}`.
std::unique_ptr<data::Transform> make_step(const Config& entry) {
  auto [name, c] = entry.single_entry();
  // An init-capture, not [&]: clang 14 rejects capturing a structured binding.
  auto columns = [&cfg = c] { return cfg.get<std::vector<std::string>>("columns", {}); };
  if (name == "impute") {
    c.check_keys({"strategy", "categorical", "per_column"});
    std::map<std::string, data::ImputeSpec> per;
    Config pc = c.section("per_column");
    for (const std::string& col : pc.keys()) {
      Config one = pc.section(col);
      one.check_keys({"strategy", "value", "text"});
      per[col] = {parse_strategy(one, "strategy", one.get<std::string>("strategy", "constant")), one.get<double>("value", 0.0),
                  one.get<std::string>("text", "")};
    }
    auto num = parse_strategy(c, "strategy", c.get<std::string>("strategy", "mean"));
    auto cat = parse_strategy(c, "categorical", c.get<std::string>("categorical", "mode"));
    if (cat == data::ImputeStrategy::Mean || cat == data::ImputeStrategy::Median)
      c.fail("categorical columns take mode or constant", "categorical");
    // strategy: constant fills with 0 (numeric) or "" (categorical) unless per_column gives value / text.
    auto imp = std::make_unique<data::Imputer>(num, cat, per);
    return imp;
  }
  if (name == "outliers") {
    c.check_keys({"method", "threshold", "action", "columns"});
    const std::string m = c.get<std::string>("method", "iqr"), a = c.get<std::string>("action", "clip");
    if (m != "iqr" && m != "zscore") c.fail("method must be iqr or zscore, got '" + m + "'", "method");
    if (a != "clip" && a != "drop") c.fail("action must be clip or drop, got '" + a + "'", "action");
    return std::make_unique<data::OutlierFilter>(m == "iqr" ? data::OutlierRule::IQR : data::OutlierRule::ZScore,
                                                 c.get<double>("threshold", m == "iqr" ? 1.5 : 3.0),
                                                 a == "clip" ? data::OutlierAction::Clip : data::OutlierAction::Drop, columns());
  }
  if (name == "drop_duplicates") {
    c.check_keys({});
    return std::make_unique<data::DropDuplicates>();
  }
  if (name == "drop_missing") {
    c.check_keys({"columns"});
    return std::make_unique<data::DropMissingRows>(columns());
  }
  if (name == "standardize") {
    c.check_keys({"columns"});
    return std::make_unique<data::StandardScaler>(columns());
  }
  if (name == "minmax") {
    c.check_keys({"columns"});
    return std::make_unique<data::MinMaxScaler>(columns());
  }
  static const std::vector<std::string> steps = {"impute", "outliers", "drop_duplicates", "drop_missing", "standardize", "minmax"};
  std::string hint = closest(name, steps);
  entry.fail("unknown cleaning step '" + name + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
             "; valid steps: impute, outliers, drop_duplicates, drop_missing, standardize, minmax");
}

// The steps that also run on validation, test and prediction rows: all but those that remove rows (removing
// evaluation rows would bias the evaluation, and predict must answer for every input row).
json inference_steps(const json& pipeline) {
  json out = pipeline;
  out["steps"] = json::array();
  for (const json& s : pipeline.at("steps")) {
    const std::string t = s.at("type");
    if (t == "drop_duplicates" || t == "drop_missing" || (t == "outliers" && s.value("action", "") == "drop")) continue;
    out["steps"].push_back(s);
  }
  return out;
}

// A CleanReport as a few lines: the step with its row counts and dropped lines, its notes (which values of which
// columns on which lines; at most 8), or else the columns it changed on one line.
std::string reports_text(const std::vector<data::CleanReport>& reps, const std::string& indent) {
  std::string s;
  for (const auto& r : reps) {
    if (r.step == "label_encode" && r.dropped_rows.empty() && r.notes.empty()) continue;
    std::string t = r.to_string();
    s += indent + t.substr(0, t.find('\n')) + "\n";
    for (size_t i = 0; i < r.notes.size() && i < 8; ++i) s += indent + "  " + r.notes[i] + "\n";
    if (r.notes.size() > 8) s += indent + "  ... " + std::to_string(r.notes.size() - 8) + " more\n";
    if (r.notes.empty()) {
      std::string cols;
      int64_t n = 0;
      for (const auto& [name, k] : r.changed_per_column)
        if (k > 0) {
          cols += (cols.empty() ? "" : ", ") + name;
          n += k;
        }
      if (n) s += indent + "  " + std::to_string(n) + " values changed in " + cols + "\n";
    }
  }
  return s;
}

// The header fields of a CSV (quotes removed), to declare types only for columns a file has.
std::vector<std::string> header_fields(const std::string& path, char delim) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::getline(in, line);
  if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> out(1);
  bool q = false;
  for (char ch : line) {
    if (ch == '"') q = !q;
    else if (ch == delim && !q) out.emplace_back();
    else out.back() += ch;
  }
  return out;
}

data::CsvOptions recorded_csv_options(const json& pp, const std::string& path, bool with_label) {
  data::CsvOptions o;
  const json& c = pp.at("csv");
  o.delimiter = c.value("delimiter", std::string(",")).at(0);
  o.missing_tokens = c.value("missing", o.missing_tokens);
  auto present = header_fields(path, o.delimiter);
  for (const auto& [name, t] : c.at("column_types").items())
    if (std::find(present.begin(), present.end(), name) != present.end()) o.column_types[name] = type_from_name(t.get<std::string>());
  const std::string label = pp.at("label");
  if (with_label || std::find(present.begin(), present.end(), label) != present.end()) o.label_column = label;
  return o;
}

// x (N, F) float32 from the pipeline's output table.
Tensor features_of(const data::Table& t, const json& pp) {
  auto m = t.to_matrix(pp.at("features").get<std::vector<std::string>>(),
                       pp.value("encoding", "onehot") == "index" ? data::CategoricalEncoding::Index : data::CategoricalEncoding::OneHot);
  return from_vector(m.data, Shape{m.shape[0], m.shape[1]});
}

Tensor labels_of(const data::Table& t) {
  auto l = t.labels();
  return from_vector(l.data, Shape{static_cast<int64_t>(l.data.size())});
}

}  // namespace

void load_table_kind(const Config& d, const std::string& kind, const json* fitted, const SplitSpec& split, LoadedData& out) {
  check_kind_keys(d, kind, {"path", "test_path", "label", "columns", "features", "categorical", "bad_rows", "delimiter",
                            "header", "missing", "clean"});
  const std::string path = d.require<std::string>("path");
  data::CsvOptions o;
  o.label_column = d.require<std::string>("label");
  const std::string delim = d.get<std::string>("delimiter", ",");
  if (delim.size() != 1) d.fail("delimiter must be one character, e.g. ',' or '\\t'", "delimiter");
  o.delimiter = delim[0];
  o.header = d.get<bool>("header", true);
  if (!o.header) d.fail("CSV files need a header row naming the columns (header: false is not supported here)", "header");
  o.missing_tokens = d.get<std::vector<std::string>>("missing", o.missing_tokens);
  Config cols = d.section("columns");
  for (const std::string& k : cols.keys()) o.column_types[k] = parse_type(cols, k, cols.require<std::string>(k));
  const std::string policy = d.get<std::string>("bad_rows", "fail");
  if (policy == "fail") o.bad_rows = data::BadRowPolicy::Fail;
  else if (policy == "skip") o.bad_rows = data::BadRowPolicy::Skip;
  else if (policy == "impute") o.bad_rows = data::BadRowPolicy::Impute;
  else d.fail("bad_rows must be fail, skip or impute; got '" + policy + "'", "bad_rows");
  const std::string enc = d.get<std::string>("categorical", "onehot");
  if (enc != "onehot" && enc != "index") d.fail("categorical must be onehot or index; got '" + enc + "'", "categorical");
  // The cleaning steps are read before the (slow) data, so a typo fails at once.
  std::vector<std::unique_ptr<data::Transform>> steps;
  if (!fitted)
    for (const Config& entry : d.list("clean")) steps.push_back(make_step(entry));
  if (fitted) {
    // The recorded types keep every column as it was in training (an inferred type could differ on new data).
    data::CsvOptions rec = recorded_csv_options(*fitted, path, true);
    o.column_types = rec.column_types;
  }

  data::CsvResult r = data::read_csv(path, o);
  out.report += "read " + r.report.to_string();
  if (r.report.rows_skipped > int64_t(r.report.examples.size())) {
    // The report details the first bad rows; name every skipped line (up to 500).
    std::string lines;
    for (size_t i = 0; i < r.report.skipped_lines.size() && i < 500; ++i) lines += (i ? ", " : "") + std::to_string(r.report.skipped_lines[i]);
    out.report += "skipped lines: " + lines + (r.report.skipped_lines.size() > 500 ? ", ..." : "") + "\n";
  }
  data::Table all = std::move(r.table);
  if (const int64_t limit = d.get<int64_t>("limit", 0); limit > 0 && int64_t(all.rows()) > limit) {
    std::vector<size_t> keep(static_cast<size_t>(limit));
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = i;
    all.select_rows(keep);
  }
  data::Table test_file;
  if (d.has("test_path")) {
    if (split.test > 0) d.fail("split.test and test_path both name a test set; keep one", "test_path");
    data::CsvOptions ot = o;
    for (const auto& [name, type] : r.report.column_types) ot.column_types[name] = type;  // same types as training
    data::CsvResult rt = data::read_csv(d.require<std::string>("test_path"), ot);
    out.report += "read " + rt.report.to_string();
    test_file = std::move(rt.table);
  }

  // Split the raw rows, so nothing below sees validation or test rows while fitting.
  auto parts = plan_split(static_cast<int64_t>(all.rows()), all.labels().data, split);
  auto subset = [&](const std::vector<int64_t>& idx) {
    data::Table t = all;
    t.select_rows(std::vector<size_t>(idx.begin(), idx.end()));
    return t;
  };
  data::Table train = subset(parts[0]);
  std::vector<std::pair<std::string, data::Table>> evals;
  if (!parts[1].empty()) evals.emplace_back("validation", subset(parts[1]));
  if (!parts[2].empty()) evals.emplace_back("test", subset(parts[2]));
  if (d.has("test_path")) evals.emplace_back("test", std::move(test_file));
  out.report += split_line(int64_t(train.rows()), parts[1].size(), int64_t(parts[2].size()) + (d.has("test_path") ? int64_t(evals.back().second.rows()) : 0));

  json pp;
  if (fitted) {
    pp = *fitted;
    data::Pipeline p = data::Pipeline::from_json(pp.at("pipeline"));
    out.report += "preprocessing: the transform recorded in the model (" + std::to_string(p.size()) + " steps, fitted on its training split)\n";
    out.report += reports_text(p.apply(train), "  ");
    for (auto& [name, t] : evals) out.report += reports_text(p.apply(t), "  " + name + ": ");
  } else {
    data::Pipeline p;
    // Fixes the category lists of categorical columns and the label from the training rows.
    p.add(std::make_unique<data::LabelEncoder>(std::vector<std::string>{}, data::LabelEncoder::Unknown::Missing, true));
    for (auto& step : steps) p.add(std::move(step));
    out.report += "cleaning, fitted on the " + std::to_string(train.rows()) + " training rows:\n";
    out.report += reports_text(p.fit_apply(train), "  ");
    const json infer = inference_steps(p.to_json());
    data::Pipeline pi = data::Pipeline::from_json(infer);
    for (auto& [name, t] : evals) {
      std::string rep = reports_text(pi.apply(t), "  ");
      if (!rep.empty()) out.report += name + " rows, same transform (row filters apply to training rows only):\n" + rep;
    }
    json types = json::object();
    for (const auto& c : train.columns) types[c.name] = data::column_type_name(c.type);
    std::vector<std::string> features = d.get<std::vector<std::string>>("features", train.feature_names());
    for (const auto& f : features)
      if (!train.has_column(f) || f == o.label_column) d.fail("features: '" + f + "' is not a feature column of " + path, "features");
    pp = {{"kind", "table"},
          {"label", o.label_column},
          {"features", features},
          {"encoding", enc},
          {"csv", {{"delimiter", delim}, {"missing", o.missing_tokens}, {"column_types", types}}},
          {"pipeline", infer}};
  }
  out.preprocess = pp;
  out.x_train = features_of(train, pp);
  out.y_train = labels_of(train);
  out.class_names = train.class_names();
  if (fitted && fitted->contains("class_names")) out.class_names = fitted->at("class_names").get<std::vector<std::string>>();
  out.preprocess["class_names"] = out.class_names;
  for (auto& [name, t] : evals) {
    Tensor x = features_of(t, pp), y = labels_of(t);
    if (name == "validation") {
      out.x_val = x;
      out.y_val = y;
    } else if (out.x_test.defined()) {
      out.x_test = concat({out.x_test, x}, 0);
      out.y_test = concat({out.y_test, y}, 0);
    } else {
      out.x_test = x;
      out.y_test = y;
    }
  }
  out.description = "CSV " + path + " (" + std::to_string(out.x_train.size(1)) + " features, label '" + o.label_column + "')";
}

Tensor table_inputs(const std::string& path, const json& pp) {
  data::CsvOptions o = recorded_csv_options(pp, path, false);
  data::CsvResult r = data::read_csv(path, o);  // bad rows fail: every input row must get a prediction
  data::Table t = std::move(r.table);
  const std::string label = pp.at("label");
  if (!t.has_column(label)) {
    // The label encoder of the recorded pipeline expects the column: add it, all missing.
    data::Column c;
    c.name = label;
    const json& types = pp.at("csv").at("column_types");
    c.type = types.contains(label) ? type_from_name(types[label].get<std::string>()) : data::ColumnType::Categorical;
    if (c.numeric()) c.numbers.assign(t.rows(), std::nan(""));
    else {
      c.codes.assign(t.rows(), -1);
      c.categories = pp.value("class_names", std::vector<std::string>{});
    }
    t.columns.push_back(std::move(c));
    t.label = label;
  }
  data::Pipeline::from_json(pp.at("pipeline")).apply(t);
  return features_of(t, pp);
}

}  // namespace cairn::cli::detail_data
