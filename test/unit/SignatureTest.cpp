//===- SignatureTest.cpp - Artifact signature parsing ---------------------===//

#include "runtime/Signature.h"

#include <cstring>

#include <gtest/gtest.h>

using namespace moe;

namespace {

const char *kL1Signature =
    R"({"entry":"l1","args":[)"
    R"({"name":"x","role":"input","dtype":"f32","shape":[1,1576,768]},)"
    R"({"name":"w_gate","role":"weight","dtype":"f32","shape":[768,8]}],)"
    R"("results":[{"name":"out","dtype":"f32","shape":[1,1576,768]},)"
    R"({"name":"expert_load","dtype":"i64","shape":[1,8]}]})";

/// A signature with one argument and one result, whose JSON objects are
/// `arg` and `result`.
std::string withArg(
    const std::string &arg,
    const std::string &result = R"({"name":"out","dtype":"f32","shape":[]})") {
  return R"({"entry":"f","args":[)" + arg + R"(],"results":[)" + result + "]}";
}

/// Expects parsing `json` to fail with exactly `message` after "signature: ".
void expectError(const std::string &json, const std::string &message) {
  Expected<Signature> signature = parseSignature(json);
  ASSERT_FALSE(signature.ok()) << "no error, expected: " << message;
  EXPECT_EQ(signature.message(), "signature: " + message);
}

TEST(SignatureTest, ParsesTheL1Example) {
  Expected<Signature> signature = parseSignature(kL1Signature);
  ASSERT_TRUE(signature.ok()) << signature.message();
  EXPECT_EQ(signature->entry, "l1");
  ASSERT_EQ(signature->args.size(), 2u);
  EXPECT_EQ(signature->args[0].name, "x");
  EXPECT_EQ(signature->args[0].role, ArgRole::Input);
  EXPECT_EQ(signature->args[0].typeString(), "f32 [1, 1576, 768]");
  EXPECT_EQ(signature->args[1].name, "w_gate");
  EXPECT_EQ(signature->args[1].role, ArgRole::Weight);
  ASSERT_EQ(signature->results.size(), 2u);
  EXPECT_EQ(signature->results[1].name, "expert_load");
  EXPECT_EQ(signature->results[1].typeString(), "i64 [1, 8]");
  EXPECT_EQ(signature->count(ArgRole::Input), 1u);
  EXPECT_EQ(signature->count(ArgRole::Weight), 1u);
  EXPECT_EQ(signature->findArg("w_gate"), &signature->args[1]);
  EXPECT_EQ(signature->findArg("out"), nullptr);
}

TEST(SignatureTest, AcceptsRankZeroNoArgsAndUnknownKeys) {
  Expected<Signature> signature = parseSignature(
      R"({"entry":"","version":3,"args":[],"results":[)"
      R"({"name":"loss","dtype":"bf16","shape":[],"layout":"dense"}]})");
  ASSERT_TRUE(signature.ok()) << signature.message();
  EXPECT_TRUE(signature->args.empty());
  EXPECT_EQ(signature->results[0].typeString(), "bf16 []");
}

TEST(SignatureTest, MatchesTensorsByDTypeAndShape) {
  Expected<Signature> signature = parseSignature(kL1Signature);
  ASSERT_TRUE(signature.ok());
  const TensorSpec &load = signature->results[1];
  EXPECT_TRUE(load.matches(*HostTensor::create(DType::I64, {1, 8})));
  EXPECT_FALSE(load.matches(*HostTensor::create(DType::I32, {1, 8})));
  EXPECT_FALSE(load.matches(*HostTensor::create(DType::I64, {8})));
}

TEST(SignatureTest, RejectsMalformedJson) {
  Expected<Signature> signature = parseSignature(R"({"entry":"f",})");
  ASSERT_FALSE(signature.ok());
  EXPECT_EQ(signature.message().rfind("signature: malformed JSON at byte", 0),
            0u)
      << signature.message();
}

/// A signature with one result and the top-level fields `extra`.
std::string withFields(const std::string &extra) {
  return R"({"entry":"f","args":[],"results":[)"
         R"({"name":"out","dtype":"f32","shape":[]}])" +
         extra + "}";
}

TEST(SignatureTest, ReadsTheAbiVersionAndChecks) {
  Expected<Signature> v1 = parseSignature(withFields(""));
  ASSERT_TRUE(v1.ok()) << v1.message();
  EXPECT_EQ(v1->abiVersion, 1);
  EXPECT_TRUE(v1->checks.empty());
  Expected<Signature> v2 =
      parseSignature(withFields(R"(,"abi":2,"checks":["a {0}","b"])"));
  ASSERT_TRUE(v2.ok()) << v2.message();
  EXPECT_EQ(v2->abiVersion, 2);
  EXPECT_EQ(v2->checks, (std::vector<std::string>{"a {0}", "b"}));
  Expected<Signature> explicitV1 = parseSignature(withFields(R"(,"abi":1)"));
  ASSERT_TRUE(explicitV1.ok()) << explicitV1.message();
  EXPECT_EQ(explicitV1->abiVersion, 1);
}

TEST(SignatureTest, RejectsBadAbiFields) {
  expectError(withFields(R"(,"abi":7)"),
              "field 'abi' must be from 1 to 6, got 7");
  expectError(withFields(R"(,"abi":"2")"),
              "field 'abi' must be from 1 to 6, got string");
  expectError(withFields(R"(,"abi":2.5)"),
              "field 'abi' must be from 1 to 6, got 2.5");
  expectError(withFields(R"(,"checks":[])"),
              "field 'checks' needs 'abi': 2 or later");
  expectError(withFields(R"(,"abi":2,"checks":{})"),
              "field 'checks' must be array, got object");
  expectError(withFields(R"(,"abi":2,"checks":["a",1])"),
              "field 'checks' must hold strings, got number");
}

/// A version-4 signature whose only argument is the JSON object `arg`.
std::string withPackedArg(const std::string &arg,
                          const std::string &abi = "4") {
  return R"({"entry":"f","abi":)" + abi + R"(,"checks":[],"args":[)" + arg +
         R"(],"results":[{"name":"out","dtype":"f32","shape":[]}]})";
}

TEST(SignatureTest, ReadsPackedWeights) {
  Expected<Signature> packed = parseSignature(withPackedArg(
      R"({"name":"w","role":"weight","dtype":"f32","shape":[2,3,70],)"
      R"("strips":32})"));
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_EQ(packed->abiVersion, 4);
  EXPECT_EQ(packed->args[0].strips, 32);
  // The logical shape is what callers bind.
  EXPECT_EQ(packed->args[0].typeString(), "f32 [2, 3, 70]");
  Expected<Signature> plain = parseSignature(withPackedArg(
      R"({"name":"w","role":"weight","dtype":"f32","shape":[3,70]})"));
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ(plain->args[0].strips, 0);
}

TEST(SignatureTest, RejectsBadStrips) {
  const std::string weight =
      R"({"name":"w","role":"weight","dtype":"f32","shape":[3,70],"strips":)";
  expectError(withPackedArg(weight + "0}"),
              "args[0] ('w'): field 'strips' must be an integer from 1 to "
              "1048576, got 0");
  expectError(withPackedArg(weight + R"("32"})"),
              "args[0] ('w'): field 'strips' must be an integer from 1 to "
              "1048576, got string");
  expectError(withPackedArg(weight + "32}", "3"),
              "args[0] ('w'): field 'strips' needs 'abi': 4 or later");
  expectError(
      withPackedArg(
          R"({"name":"x","role":"input","dtype":"f32","shape":[3,70],"strips":8})"),
      "args[0] ('x'): field 'strips' is only for weights");
  expectError(
      withPackedArg(
          R"({"name":"w","role":"weight","dtype":"f32","shape":[70],"strips":8})"),
      "args[0] ('w'): field 'strips' needs a shape of rank 2 or more, got "
      "rank 1");
}

/// A version-5 signature of input `arg` and result `result`.
std::string withGroups(const std::string &arg, const std::string &result,
                       const std::string &abi = "5") {
  return R"({"entry":"f","abi":)" + abi + R"(,"args":[)" + arg +
         R"(],"results":[)" + result + "]}";
}

TEST(SignatureTest, ReadsPerGroupTensors) {
  Expected<Signature> grouped = parseSignature(withGroups(
      R"({"name":"x","role":"input","dtype":"f32","shape":[8,5],"per_group":true})",
      R"({"name":"y","dtype":"i64","shape":[1,4],"per_group":true},)"
      R"({"name":"z","dtype":"f32","shape":[2],"per_group":false})"));
  ASSERT_TRUE(grouped.ok()) << grouped.message();
  EXPECT_TRUE(grouped->hasGroups());
  const ArgSpec &x = grouped->args[0];
  EXPECT_TRUE(x.perGroup);
  EXPECT_EQ(x.shape, (std::vector<int64_t>{8, 5}));
  EXPECT_EQ(x.declaredShape, (std::vector<int64_t>{-1, 5}));
  EXPECT_EQ(x.typeString(), "f32 [8*G, 5]");
  EXPECT_EQ(grouped->results[0].typeString(), "i64 [G, 4]");
  EXPECT_EQ(x.shapeFor(3), (std::vector<int64_t>{24, 5}));
  EXPECT_FALSE(grouped->results[1].perGroup);
  EXPECT_EQ(grouped->results[1].shapeFor(3), (std::vector<int64_t>{2}));
  for (auto [dims, matches] :
       {std::pair<std::vector<int64_t>, bool>{{8, 5}, true},
        {{24, 5}, true},
        {{0, 5}, false},
        {{12, 5}, false},
        {{8, 4}, false},
        {{8}, false}}) {
    EXPECT_EQ(x.matches(DType::F32, dims), matches) << shapeString(dims);
    if (matches) {
      HostTensor t = *HostTensor::create(DType::F32, dims);
      EXPECT_EQ(x.groupsIn(t), dims[0] / 8);
    }
  }
  EXPECT_FALSE(x.matches(DType::F64, {8, 5}));
}

TEST(SignatureTest, RejectsBadPerGroupFields) {
  const std::string input =
      R"({"name":"x","role":"input","dtype":"f32","shape":[2],"per_group":true})";
  const std::string result =
      R"({"name":"y","dtype":"f32","shape":[2],"per_group":true})";
  expectError(withGroups(input, result, "4"),
              "field 'per_group' needs 'abi': 5 or later");
  expectError(
      withGroups(
          R"({"name":"w","role":"weight","dtype":"f32","shape":[2],"per_group":true})",
          result),
      "args[0] ('w'): a weight cannot be 'per_group'");
  expectError(
      withGroups(
          R"({"name":"x","role":"input","dtype":"f32","shape":[2],"per_group":1})",
          result),
      "args[0] ('x'): field 'per_group' must be a boolean, got number");
  expectError(
      withGroups(
          R"({"name":"x","role":"input","dtype":"f32","shape":[],"per_group":true})",
          result),
      "args[0] ('x'): field 'per_group' needs a shape whose first dimension "
      "(the rows of one group) is at least 1, got []");
  expectError(
      withGroups(R"({"name":"x","role":"input","dtype":"f32","shape":[2]})",
                 result),
      "results are 'per_group' but no input is");
  const std::string grouped = R"({"entry":"f","abi":5,"args":[)" + input +
                              R"(],"results":[)" + result + "]";
  Expected<Signature> two =
      parseSignature(grouped + R"(,"groups_per_call":2})");
  ASSERT_TRUE(two.ok()) << two.message();
  EXPECT_EQ(two->groupsPerCall, 2);
  expectError(grouped + R"(,"groups_per_call":0})",
              "field 'groups_per_call' must be an integer from 1 to 1048576, "
              "got 0");
  expectError(
      R"({"entry":"f","abi":5,"groups_per_call":2,"args":[],"results":[)"
      R"({"name":"y","dtype":"f32","shape":[2]}]})",
      "field 'groups_per_call' needs 'per_group' tensors");
}

TEST(SignatureTest, ReadsTheDevice) {
  Expected<Signature> none = parseSignature(withFields(""));
  ASSERT_TRUE(none.ok()) << none.message();
  EXPECT_EQ(none->device, DeviceKind::Cpu);
  const std::string gpu =
      R"(,"abi":6,"checks":[],"launches":[],"workspace_bytes":0)";
  Expected<Signature> cuda =
      parseSignature(withFields(R"(,"device":"cuda")" + gpu));
  ASSERT_TRUE(cuda.ok()) << cuda.message();
  EXPECT_EQ(cuda->device, DeviceKind::Cuda);
  EXPECT_EQ(deviceKindName(cuda->device), "cuda");
  Expected<Signature> opencl =
      parseSignature(withFields(R"(,"device":"opencl")" + gpu));
  ASSERT_TRUE(opencl.ok()) << opencl.message();
  EXPECT_EQ(deviceKindName(opencl->device), "opencl");
  expectError(withFields(R"(,"device":"tpu")"),
              "field 'device' must be 'cpu', 'cuda' or 'opencl', got 'tpu'");
  expectError(withFields(R"(,"device":1)"),
              "field 'device' must be string, got number");
  expectError(withFields(R"(,"device":"cuda")"),
              "a GPU 'device' needs 'abi': 6 or later");
}

// ABI 6: a GPU artifact's host program, the launches in order.
TEST(SignatureTest, ReadsLaunches) {
  Expected<Signature> signature = parseSignature(withFields(
      R"(,"abi":6,"checks":[],"device":"opencl","workspace_bytes":4096,)"
      R"("launches":[{"kernel":"k0","grid":[3,1,1],"block":[64,1,1],)"
      R"("args":[{"arg":1},{"i64":-5},{"f32":0.5},{"i1":1}]},)"
      R"({"kernel":"k1","grid":[1,2,1],"block":[32,1,1],"args":[]}])"));
  ASSERT_TRUE(signature.ok()) << signature.message();
  EXPECT_EQ(signature->workspaceBytes, 4096);
  ASSERT_EQ(signature->launches.size(), 2u);
  const Launch &first = signature->launches[0];
  EXPECT_EQ(first.kernel, "k0");
  EXPECT_EQ(first.grid, (std::array<unsigned, 3>{3, 1, 1}));
  EXPECT_EQ(first.block, (std::array<unsigned, 3>{64, 1, 1}));
  ASSERT_EQ(first.args.size(), 4u);
  EXPECT_TRUE(first.args[0].isBuffer);
  EXPECT_EQ(first.args[0].index, 1u); // the workspace: 0 args, 1 result
  EXPECT_FALSE(first.args[1].isBuffer);
  EXPECT_EQ(first.args[1].bytes, 8u);
  EXPECT_EQ(static_cast<int64_t>(first.args[1].bits), -5);
  float half = 0;
  std::memcpy(&half, &first.args[2].bits, 4);
  EXPECT_EQ(first.args[2].bytes, 4u);
  EXPECT_EQ(half, 0.5f);
  EXPECT_EQ(first.args[3].bytes, 1u);
  EXPECT_EQ(signature->launches[1].grid[1], 2u);
}

TEST(SignatureTest, RejectsBadLaunches) {
  auto with = [](const std::string &launches, const std::string &bytes = "0") {
    return withFields(R"(,"abi":6,"checks":[],"device":"cuda",)"
                      R"("workspace_bytes":)" +
                      bytes + R"(,"launches":[)" + launches + "]");
  };
  const std::string sizes = R"("grid":[1,1,1],"block":[1,1,1])";
  expectError(with(R"({"kernel":"k",)" + sizes + R"(,"args":[{"arg":2}]})"),
              "launches[0]: 'arg' must name one of the 2 buffers");
  expectError(with(R"({"kernel":"k",)" + sizes + R"(,"args":[{"u7":2}]})"),
              "launches[0]: unknown argument kind 'u7'");
  expectError(with(R"({"kernel":"k",)" + sizes + R"(,"args":[{"i64":"x"}]})"),
              "launches[0]: a scalar must be a number");
  expectError(with(R"({"kernel":"k","grid":[0,1,1],"block":[1,1,1],)"
                   R"("args":[]})"),
              "launches[0]: field 'grid' must hold sizes from 1 to "
              "2147483647");
  expectError(with(R"({"kernel":"k","grid":[1,1],"block":[1,1,1],)"
                   R"("args":[]})"),
              "launches[0]: field 'grid' must hold 3 sizes");
  expectError(with("", "-1"), "field 'workspace_bytes' must be a byte count");
  expectError(withFields(R"(,"launches":[])"),
              "field 'launches' needs a GPU 'device'");
}

TEST(SignatureTest, ReadsTheCpu) {
  Expected<Signature> none = parseSignature(withFields(""));
  ASSERT_TRUE(none.ok()) << none.message();
  EXPECT_FALSE(none->cpu.has_value());
  // Names the runtime does not check are kept (for messages), and the cpu
  // field needs no ABI version.
  Expected<Signature> v4 = parseSignature(withFields(
      R"(,"cpu":{"name":"x86-64-v4","features":["avx2","avx512f","avx9"]})"));
  ASSERT_TRUE(v4.ok()) << v4.message();
  ASSERT_TRUE(v4->cpu.has_value());
  EXPECT_EQ(v4->cpu->name, "x86-64-v4");
  EXPECT_EQ(v4->cpu->features,
            (std::vector<std::string>{"avx2", "avx512f", "avx9"}));
  Expected<Signature> baseline = parseSignature(withFields(
      R"(,"abi":3,"checks":[],"cpu":{"name":"x86-64","features":[],"x":1})"));
  ASSERT_TRUE(baseline.ok()) << baseline.message();
  EXPECT_EQ(baseline->cpu->name, "x86-64");
  EXPECT_TRUE(baseline->cpu->features.empty());
}

TEST(SignatureTest, RejectsBadCpuFields) {
  expectError(withFields(R"(,"cpu":"x86-64")"),
              "field 'cpu' must be object, got string");
  expectError(withFields(R"(,"cpu":null)"),
              "field 'cpu' must be object, got null");
  expectError(withFields(R"(,"cpu":{"features":[]})"),
              "cpu: missing field 'name'");
  expectError(withFields(R"(,"cpu":{"name":3,"features":[]})"),
              "cpu: field 'name' must be string, got number");
  expectError(withFields(R"(,"cpu":{"name":"znver4"})"),
              "cpu: missing field 'features'");
  expectError(withFields(R"(,"cpu":{"name":"znver4","features":"avx2"})"),
              "cpu: field 'features' must be array, got string");
  expectError(withFields(R"(,"cpu":{"name":"znver4","features":["avx2",2]})"),
              "cpu: field 'features' must hold strings, got number");
}

TEST(SignatureTest, RejectsAWrongTopLevel) {
  expectError("[]", "must be a JSON object, got array");
  expectError(R"({"args":[],"results":[]})", "missing field 'entry'");
  expectError(R"({"entry":1,"args":[],"results":[]})",
              "field 'entry' must be string, got number");
  expectError(R"({"entry":"f","results":[]})", "missing field 'args'");
  expectError(R"({"entry":"f","args":{},"results":[]})",
              "field 'args' must be array, got object");
  expectError(R"({"entry":"f","args":[]})", "missing field 'results'");
  expectError(R"({"entry":"f","args":[],"results":[]})", "'results' is empty");
}

TEST(SignatureTest, RejectsBadArguments) {
  expectError(withArg("7"), "args[0]: must be an object, got number");
  expectError(withArg(R"({"role":"input","dtype":"f32","shape":[]})"),
              "args[0]: missing field 'name'");
  expectError(withArg(R"({"name":"","role":"input","dtype":"f32",)"
                      R"("shape":[]})"),
              "args[0]: field 'name' is empty");
  expectError(withArg(R"({"name":"x","dtype":"f32","shape":[]})"),
              "args[0] ('x'): missing field 'role'");
  expectError(withArg(R"({"name":"x","role":"output","dtype":"f32",)"
                      R"("shape":[]})"),
              "args[0] ('x'): unknown role 'output' (expected 'input' or "
              "'weight')");
  expectError(withArg(R"({"name":"x","role":"input","shape":[]})"),
              "args[0] ('x'): missing field 'dtype'");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32"})"),
              "args[0] ('x'): missing field 'shape'");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":4})"),
              "args[0] ('x'): field 'shape' must be array, got number");
}

TEST(SignatureTest, RejectsUnknownDTypes) {
  expectError(withArg(R"({"name":"w","role":"weight","dtype":"f33",)"
                      R"("shape":[2]})"),
              "args[0] ('w'): unknown dtype 'f33' (known: f16 bf16 f32 f64 "
              "i8 i16 i32 i64 u8 u16 u32 u64 bool)");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":[]})",
                      R"({"name":"y","dtype":"F32","shape":[]})"),
              "results[0] ('y'): unknown dtype 'F32' (known: f16 bf16 f32 "
              "f64 i8 i16 i32 i64 u8 u16 u32 u64 bool)");
}

TEST(SignatureTest, RejectsNegativeAndNonIntegerDimensions) {
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":[2,-1]})"),
              "args[0] ('x'): shape must hold non-negative integers, got -1");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":[2.5]})"),
              "args[0] ('x'): shape must hold non-negative integers, got 2.5");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":["?"]})"),
              "args[0] ('x'): shape must hold non-negative integers, got "
              "string");
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":[9223372036854775808]})"),
              "args[0] ('x'): shape must hold non-negative integers, got "
              "9223372036854775808");
}

TEST(SignatureTest, RejectsShapesTooLargeToAllocate) {
  expectError(withArg(R"({"name":"x","role":"input","dtype":"f32",)"
                      R"("shape":[4294967296,4294967296]})"),
              "args[0] ('x'): shape [4294967296, 4294967296] of f32 is too "
              "large");
}

TEST(SignatureTest, RejectsDuplicateNames) {
  expectError(withArg(R"({"name":"out","role":"input","dtype":"f32",)"
                      R"("shape":[]})"),
              "results[0] ('out'): duplicate name 'out' (argument and result "
              "names must be unique)");
}

} // namespace
