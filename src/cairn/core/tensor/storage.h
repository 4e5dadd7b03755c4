// A flat, shared buffer. Tensors are strided views into one Storage.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "cairn/core/tensor/allocator.h"
#include "cairn/core/tensor/dtype.h"

namespace cairn {

class Storage {
 public:
  // nbytes fresh bytes from the device's allocator (uninitialised).
  Storage(size_t nbytes, DeviceType device = DeviceType::CPU);
  // Wraps memory owned elsewhere (an mmap'd file, a caller's buffer); `release` runs when the storage dies.
  Storage(void* data, size_t nbytes, std::function<void(void*)> release, DeviceType device = DeviceType::CPU);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  DeviceType device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  DeviceType device_ = DeviceType::CPU;
  Allocator* allocator_ = nullptr;
  std::function<void(void*)> release_;
};

}  // namespace cairn
