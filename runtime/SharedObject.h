//===- SharedObject.h - dlopen'ed shared objects ----------------*- C++ -*-===//
//
// A shared object opened with dlopen and closed when the last reference goes
// away. Failures carry dlerror()'s text but not the path; callers prefix it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_SHAREDOBJECT_H
#define MOE_RUNTIME_SHAREDOBJECT_H

#include "runtime/Status.h"

#include <memory>
#include <string>
#include <string_view>

namespace moe {

class SharedObject {
public:
  /// Opens `path` with RTLD_NOW (unresolved symbols fail here, not in the
  /// middle of a run) and RTLD_LOCAL (two artifacts exporting the same names
  /// do not interfere). A path without a '/' is opened relative to the
  /// working directory rather than searched for on the library path.
  static Expected<std::shared_ptr<SharedObject>> open(const std::string &path);

  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;
  ~SharedObject();

  /// The address of the symbol `name`.
  Expected<void *> symbol(const std::string &name) const;

  /// The NUL-terminated string stored in the char array symbol `name`. Where
  /// the dynamic symbol table records the array's size, a missing NUL is an
  /// error instead of a read past its end.
  Expected<std::string_view> cString(const std::string &name) const;

private:
  explicit SharedObject(void *handle) : handle(handle) {}

  void *handle;
};

} // namespace moe

#endif // MOE_RUNTIME_SHAREDOBJECT_H
