//===- ScopedEnvironment.h - An environment variable for one test -*- C++
//-*-===//

#ifndef MOE_TEST_UNIT_SCOPEDENVIRONMENT_H
#define MOE_TEST_UNIT_SCOPEDENVIRONMENT_H

#include <cstdlib>
#include <optional>
#include <string>

namespace moe::test {

/// Sets the environment variable `name` to `value` (or unsets it, for
/// nullopt) for the lifetime of the object, then restores what it was.
class ScopedEnvironment {
public:
  ScopedEnvironment(std::string name, std::optional<std::string> value)
      : name(std::move(name)) {
    if (const char *old = std::getenv(this->name.c_str()))
      saved = old;
    set(value);
  }
  ~ScopedEnvironment() { set(saved); }
  ScopedEnvironment(const ScopedEnvironment &) = delete;
  ScopedEnvironment &operator=(const ScopedEnvironment &) = delete;

private:
  void set(const std::optional<std::string> &value) {
    if (value)
      setenv(name.c_str(), value->c_str(), 1);
    else
      unsetenv(name.c_str());
  }

  std::string name;
  std::optional<std::string> saved;
};

} // namespace moe::test

#endif // MOE_TEST_UNIT_SCOPEDENVIRONMENT_H
