//===- LoadModel.h - How moe-run turns a path into a Model ------*- C++ -*-===//
//
// The one place where moe-run decides how a model file becomes runnable code:
// a CPU artifact (.so) is dlopened by the runtime; a .mlir file is compiled by
// the JIT. Kept apart from the driver so the JIT can be wired in (and linked)
// here without touching the rest of moe-run.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_LOADMODEL_H
#define MOE_TOOLS_MOE_RUN_LOADMODEL_H

#include "runtime/Model.h"

#include <string>

namespace moe {

/// The model in the file at `path`: a .mlir file goes through the JIT, any
/// other path is loaded as a CPU artifact (Model::load).
Expected<Model> loadModelFromPath(const std::string &path);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_LOADMODEL_H
