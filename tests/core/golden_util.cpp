#include "golden_util.h"

#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cairn/io/safetensors.h"

namespace cairn::golden {
namespace {

Tensor to_tensor(const io::TensorView& v, const std::string& source) {
  DType dt;
  if (v.dtype == "F64") dt = DType::f64;
  else if (v.dtype == "F32") dt = DType::f32;
  else if (v.dtype == "I64") dt = DType::i64;
  else if (v.dtype == "I32") dt = DType::i32;
  else if (v.dtype == "U8") dt = DType::u8;
  else throw std::runtime_error(source + ": tensor " + v.name + " has dtype " + v.dtype + ", which golden files do not use");
  Tensor t = Tensor::empty(Shape(v.shape.begin(), v.shape.end()), dt);
  if (!v.data.empty()) std::memcpy(t.raw_data(), v.data.data(), v.data.size());
  return t;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, ','))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

Tensor& Call::operator[](const std::string& name) {
  auto it = in.find(name);
  if (it == in.end()) throw std::out_of_range(where + ": the golden file has no input '" + name + "'");
  return it->second;
}

Tensor Call::opt(const std::string& name) const {
  auto it = in.find(name);
  return it == in.end() ? Tensor() : it->second;
}

Tolerance tolerance_for(DType dtype) { return dtype == DType::f64 ? Tolerance{1e-10, 1e-10} : Tolerance{1e-5, 1e-5}; }

void expect_close(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what) {
  if (!got.defined()) {
    ADD_FAILURE() << what << ": Cairn gave no tensor (undefined), PyTorch gave shape " << shape_str(want.shape());
    return;
  }
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    ADD_FAILURE() << what << ": Cairn gave " << dtype_name(got.dtype()) << " " << shape_str(got.shape())
                  << ", PyTorch " << dtype_name(want.dtype()) << " " << shape_str(want.shape());
    return;
  }
  std::ostringstream report;
  int64_t bad = 0;
  double worst = 0;
  if (is_floating(want.dtype())) {
    auto g = got.to_vector<double>(), w = want.to_vector<double>();
    for (size_t i = 0; i < w.size(); ++i) {
      bool ok;
      if (std::isnan(w[i]) || std::isinf(w[i]))
        ok = (std::isnan(w[i]) && std::isnan(g[i])) || g[i] == w[i];
      else {
        const double err = std::abs(g[i] - w[i]);
        ok = err <= tol.atol + tol.rtol * std::abs(w[i]);
        if (std::isfinite(err)) worst = std::max(worst, err);
        if (!std::isfinite(g[i])) ok = false;
      }
      if (!ok && bad++ < 6) report << "\n  [" << i << "] Cairn " << g[i] << " vs PyTorch " << w[i];
    }
  } else {
    auto g = got.to_vector<int64_t>(), w = want.to_vector<int64_t>();
    for (size_t i = 0; i < w.size(); ++i)
      if (g[i] != w[i] && bad++ < 6) report << "\n  [" << i << "] Cairn " << g[i] << " vs PyTorch " << w[i];
  }
  if (bad > 0)
    ADD_FAILURE() << what << ": " << bad << " of " << want.numel() << " elements differ (max |diff| " << worst
                  << ", tolerance " << tol.atol << " + " << tol.rtol << " * |want|):" << report.str();
}

namespace {

void run_case(const io::SafetensorsReader& r, const std::string& op, const std::string& dt, const Case& c,
              std::set<std::string>& used) {
  const std::string prefix = dt + "/" + c.name + "/";
  Call call;
  call.dtype = dt == "f64" ? DType::f64 : DType::f32;
  call.where = op + " " + dt + "/" + c.name;
  SCOPED_TRACE(call.where + " (tools/golden/core_golden_cases.py makes this case)");
  const Tolerance tol = tolerance_for(call.dtype);
  auto load = [&](const std::string& name) {
    used.insert(name);
    return to_tensor(r.get(name), r.source());
  };

  for (const std::string& n : r.names()) {
    if (!starts_with(n, prefix + "in/")) continue;
    const std::string key = n.substr(prefix.size() + 3);
    Tensor t = load(n);
    if (r.has(prefix + "grad/" + key)) t.requires_grad_();
    call.in[key] = t;
  }
  std::vector<Tensor> got;
  try {
    got = c.fn(call);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the Cairn call threw: " << e.what();
    for (const std::string& n : r.names())
      if (starts_with(n, prefix)) used.insert(n);
    return;
  }

  std::vector<std::string> out_names;
  if (r.has(prefix + "out")) {
    out_names.push_back("out");
  } else {
    for (int i = 0; r.has(prefix + "out/" + std::to_string(i)); ++i) out_names.push_back("out/" + std::to_string(i));
  }
  EXPECT_EQ(got.size(), out_names.size()) << "number of outputs";
  Tensor loss;
  for (size_t i = 0; i < out_names.size() && i < got.size(); ++i) {
    expect_close(got[i], load(prefix + out_names[i]), tol, "output " + out_names[i]);
    const std::string rname = prefix + "R" + out_names[i].substr(3);
    if (!r.has(rname) || !got[i].defined()) continue;
    Tensor term = sum(mul(got[i], load(rname)));
    loss = loss.defined() ? add(loss, term) : term;
  }

  bool has_grads = false;
  for (const auto& [key, t] : call.in) has_grads |= t.requires_grad();
  if (has_grads) {
    try {
      if (!loss.defined()) throw AutogradError("no output to differentiate");
      loss.backward();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "backward threw: " << e.what();
    }
    for (const auto& [key, t] : call.in) {
      if (!t.requires_grad()) continue;
      Tensor g = t.grad().defined() ? t.grad() : zeros(t.shape(), t.dtype());
      expect_close(g, load(prefix + "grad/" + key), tol, "gradient of " + key);
    }
  }
  for (const std::string& n : r.names()) {
    if (!starts_with(n, prefix + "after/")) continue;
    const std::string key = n.substr(prefix.size() + 6);
    expect_close(call[key], load(n), tol, key + " after the call");
  }
}

}  // namespace

void run(const std::string& op, const std::vector<Case>& cases) {
  const std::string path = std::string(CAIRN_SOURCE_DIR) + "/tests/golden/core/" + op + ".safetensors";
  io::SafetensorsReader r(path);
  auto it = r.metadata().find("cases");
  ASSERT_NE(it, r.metadata().end()) << path << " has no 'cases' metadata";
  const std::vector<std::string> in_file = split_commas(it->second);
  std::set<std::string> file_set(in_file.begin(), in_file.end()), cpp_set;
  for (const Case& c : cases) {
    EXPECT_TRUE(cpp_set.insert(c.name).second) << op << ": case " << c.name << " listed twice";
    EXPECT_TRUE(file_set.count(c.name)) << op << ": case " << c.name
                                        << " is not in the golden file; add it to tools/golden/core_golden_cases.py "
                                           "and run `make golden`";
  }
  for (const std::string& n : in_file)
    EXPECT_TRUE(cpp_set.count(n)) << op << ": the golden file's case " << n << " has no C++ counterpart";

  std::set<std::string> used;
  for (const std::string dt : {"f64", "f32"})
    for (const Case& c : cases)
      if (file_set.count(c.name)) run_case(r, op, dt, c, used);
  for (const std::string& n : r.names())
    EXPECT_TRUE(used.count(n)) << op << ": tensor " << n << " of the golden file was never compared";
}

}  // namespace cairn::golden
