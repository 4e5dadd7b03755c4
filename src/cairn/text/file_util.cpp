#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "cairn/text/detail.h"

namespace cairn::text::detail {
namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw TokenizerError("cannot write " + what + " '" + path + "': " + std::strerror(err) +
                       "; check that the directory exists and is writable");
}

void write_all(int fd, std::string_view bytes, const std::string& tmp) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("temporary file", tmp, errno);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string read_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw TokenizerError("cannot read " + std::string(what) + " '" + path + "': it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw TokenizerError("cannot read " + std::string(what) + " '" + path + "': " + std::strerror(errno) +
                         "; check the path");
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw TokenizerError("cannot read " + std::string(what) + " '" + path + "': read error");
  return std::move(buf).str();
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  std::random_device rd;
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp";
  name += std::to_string(rd());
  std::string tmp = (dir / name).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_io("temporary file", tmp, errno);
  try {
    write_all(fd, bytes, tmp);
    if (::fsync(fd) != 0) throw_io("temporary file", tmp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_io("temporary file", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_io("file", path, err);
  }
  // The rename is durable only once the directory entry is on disk.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

nlohmann::json read_json_file(const std::string& path, std::string_view what) {
  std::string text = read_file(path, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::size_t offset = e.byte == 0 ? 0 : e.byte - 1;
    if (offset > text.size()) offset = text.size();
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw TokenizerError(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                         std::string(what) + " is not valid JSON (byte offset " + std::to_string(offset) + "): " +
                         e.what());
  }
}

const nlohmann::json& require_field(const nlohmann::json& object, const char* name, nlohmann::json::value_t type,
                                    const std::string& path) {
  if (!object.is_object()) throw TokenizerError(path + ": expected a JSON object at the top level");
  auto it = object.find(name);
  if (it == object.end()) throw TokenizerError(path + ": missing field '" + name + "'");
  bool ok = it->type() == type ||
            (type == nlohmann::json::value_t::number_integer && it->type() == nlohmann::json::value_t::number_unsigned);
  if (!ok) {
    throw TokenizerError(path + ": field '" + name + "' has JSON type " + it->type_name() + ", expected " +
                         nlohmann::json(type).type_name());
  }
  return *it;
}

}  // namespace cairn::text::detail
