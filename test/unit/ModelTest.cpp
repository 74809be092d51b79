//===- ModelTest.cpp - Loading, binding and running models ----------------===//

#include "runtime/Model.h"

#include "runtime/Npy.h"

#include "ArtifactFiles.h"
#include "ScopedEnvironment.h"
#include "TestFiles.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <cstring>
#include <optional>

using namespace moe;
using namespace moe::test;

namespace {

class ModelTest : public TempDirTest {
protected:
  Model loadAffine() {
    Expected<Model> model = Model::load(artifactPath("affine"));
    EXPECT_TRUE(model.ok()) << model.message();
    return std::move(*model);
  }

  /// affine.so with its weights bound from a file.
  Model loadAffineWithWeights() {
    Model model = loadAffine();
    std::string weights = path("w.safetensors");
    writeAffineWeights(weights);
    Status s = model.bindWeights(weights);
    EXPECT_TRUE(s.ok()) << s.message();
    return model;
  }
};

void expectAffineResult(const Model &model) {
  ASSERT_EQ(model.results().size(), 1u);
  const HostTensor *out = model.findResult("out");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->typeString(), "f32 [2, 3, 4]");
  std::vector<float> expected = affineExpected();
  for (int i = 0; i < 24; ++i)
    EXPECT_EQ(out->data<float>()[i], expected[i]) << "element " << i;
}

/// Expects `status` to fail with exactly `message`.
void expectError(const Status &status, const std::string &message) {
  ASSERT_FALSE(status.ok()) << "no error, expected: " << message;
  EXPECT_EQ(status.message(), message);
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

TEST_F(ModelTest, LoadsTheSignature) {
  Model model = loadAffine();
  const Signature &signature = model.signature();
  EXPECT_EQ(signature.entry, "affine");
  ASSERT_EQ(signature.args.size(), 3u);
  EXPECT_EQ(signature.args[0].name, "x");
  EXPECT_EQ(signature.args[0].role, ArgRole::Input);
  EXPECT_EQ(signature.args[2].typeString(), "f32 [4]");
  EXPECT_EQ(signature.args[2].role, ArgRole::Weight);
  ASSERT_EQ(signature.results.size(), 1u);
  EXPECT_TRUE(model.results().empty());
  EXPECT_EQ(model.findResult("out"), nullptr);
}

TEST_F(ModelTest, FailsOnAMissingFile) {
  std::string missing = path("missing.so");
  Expected<Model> model = Model::load(missing);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind("model '" + missing + "': cannot load: ", 0),
            0u)
      << model.message();
  EXPECT_NE(model.message().find("No such file"), std::string::npos)
      << model.message();
}

TEST_F(ModelTest, FailsOnAFileThatIsNotASharedObject) {
  std::string text = path("model.so");
  // Longer than an ELF header, so the loader checks the magic number.
  writeBytes(text, std::string(1024, 'x'));
  Expected<Model> model = Model::load(text);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind("model '" + text + "': cannot load: ", 0), 0u)
      << model.message();
  EXPECT_NE(model.message().find("invalid ELF header"), std::string::npos)
      << model.message();
}

TEST_F(ModelTest, FailsOnMissingSymbols) {
  std::string noEntry = artifactPath("no-entry");
  Expected<Model> model = Model::load(noEntry);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind("model '" + noEntry +
                                      "': not a moe artifact: missing symbol "
                                      "'moe_entry': ",
                                  0),
            0u)
      << model.message();
  EXPECT_NE(model.message().find("undefined symbol: moe_entry"),
            std::string::npos)
      << model.message();

  std::string noSignature = artifactPath("no-signature");
  model = Model::load(noSignature);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind("model '" + noSignature +
                                      "': not a moe artifact: missing symbol "
                                      "'moe_signature_json': ",
                                  0),
            0u)
      << model.message();
}

TEST_F(ModelTest, FailsOnABadSignature) {
  std::string bad = artifactPath("bad-signature");
  Expected<Model> model = Model::load(bad);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind(
                "model '" + bad + "': signature: malformed JSON at byte ", 0),
            0u)
      << model.message();
}

TEST_F(ModelTest, DoesNotReadPastAnUnterminatedSignature) {
  std::string bad = artifactPath("unterminated-signature");
  Expected<Model> model = Model::load(bad);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message(),
            "model '" + bad +
                "': not a moe artifact: symbol 'moe_signature_json' (2 "
                "bytes) is not NUL-terminated");
}

TEST_F(ModelTest, LoadsARelativePathFromTheWorkingDirectory) {
  // "affine.so" is not on the library path: it must be found as ./affine.so.
  std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(MOE_TEST_ARTIFACTS_DIR);
  Expected<Model> model = Model::load("affine.so");
  std::filesystem::current_path(previous);
  EXPECT_TRUE(model.ok()) << model.message();
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

TEST_F(ModelTest, RunsWithWeightsFromAFile) {
  Model model = loadAffineWithWeights();
  ASSERT_TRUE(model.bindInput("x", affineX()).ok());
  Status s = model.run();
  ASSERT_TRUE(s.ok()) << s.message();
  expectAffineResult(model);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(model.results()[0].bytes()) %
                HostTensor::kAlignment,
            0u);
}

TEST_F(ModelTest, RebindsInputsAndReusesResultBuffers) {
  Model model = loadAffineWithWeights();
  ASSERT_TRUE(model.bindInput("x", rampF32({2, 3, 4}, 0, 0)).ok());
  ASSERT_TRUE(model.run().ok());
  const std::byte *first = model.results()[0].bytes();
  EXPECT_EQ(model.results()[0].data<float>()[1], -0.5f); // 0 * w + bias[1]

  ASSERT_TRUE(model.bindInput("x", affineX()).ok());
  ASSERT_TRUE(model.run().ok());
  EXPECT_EQ(model.results()[0].bytes(), first);
  expectAffineResult(model);
}

TEST_F(ModelTest, SharesOneWeightFileBetweenModels) {
  std::string weights = path("w.safetensors");
  writeAffineWeights(weights);
  Expected<SafeTensorsFile> file = readSafeTensors(weights);
  ASSERT_TRUE(file.ok()) << file.message();
  auto shared = std::make_shared<const SafeTensorsFile>(std::move(*file));
  Model a = loadAffine(), b = loadAffine();
  ASSERT_TRUE(a.bindWeights(shared).ok());
  ASSERT_TRUE(b.bindWeights(shared).ok());
  shared.reset(); // the models keep the file alive
  for (Model *model : {&a, &b}) {
    ASSERT_TRUE(model->bindInput("x", affineX()).ok());
    ASSERT_TRUE(model->run().ok());
    expectAffineResult(*model);
  }
}

TEST_F(ModelTest, BindsWeightsHeldInMemory) {
  Model model = loadAffine();
  ASSERT_TRUE(model.bindWeight("w", affineW()).ok());
  ASSERT_TRUE(model.bindWeight("bias", affineBias()).ok());
  ASSERT_TRUE(model.bindInput("x", affineX()).ok());
  ASSERT_TRUE(model.run().ok());
  expectAffineResult(model);
}

TEST_F(ModelTest, BindsNpyInputs) {
  std::string x = path("x.npy");
  ASSERT_TRUE(writeNpy(x, affineX()).ok());
  Model model = loadAffineWithWeights();
  Status s = model.bindInputNpy(x);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(model.run().ok());
  expectAffineResult(model);

  Model named = loadAffineWithWeights();
  s = named.bindInputNpy("x", x);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(named.run().ok());
  expectAffineResult(named);
}

TEST_F(ModelTest, RunsRankZeroArgumentsAndI64Results) {
  Expected<Model> model = Model::load(artifactPath("router-stats"));
  ASSERT_TRUE(model.ok()) << model.message();
  // Tokens 0-3 prefer expert 1, token 4 expert 2, token 5 expert 0.
  HostTensor logits = rampF32({6, 3}, 0, 0);
  float *l = logits.data<float>();
  for (int t = 0; t < 4; ++t)
    l[t * 3 + 1] = 1;
  l[4 * 3 + 2] = 2;
  l[5 * 3 + 0] = 3;
  HostTensor scale = rampF32({}, 0.5f, 0);
  ASSERT_TRUE(model->bindWeight("scale", std::move(scale)).ok());
  ASSERT_TRUE(model->bindInput("logits", std::move(logits)).ok());
  Status s = model->run();
  ASSERT_TRUE(s.ok()) << s.message();

  const HostTensor *load = model->findResult("expert_load");
  ASSERT_NE(load, nullptr);
  ASSERT_EQ(load->typeString(), "i64 [1, 3]");
  EXPECT_EQ(load->data<int64_t>()[0], 1);
  EXPECT_EQ(load->data<int64_t>()[1], 4);
  EXPECT_EQ(load->data<int64_t>()[2], 1);
  const HostTensor *dropped = model->findResult("dropped_tokens");
  ASSERT_NE(dropped, nullptr);
  ASSERT_EQ(dropped->typeString(), "i64 []");
  EXPECT_EQ(dropped->data<int64_t>()[0], 2);
  const HostTensor *scaled = model->findResult("scaled");
  ASSERT_NE(scaled, nullptr);
  EXPECT_EQ(scaled->data<float>()[5 * 3], 1.5f);
  // importance = [1.5, 2, 1]: mean 1.5, variance 1/6.
  const HostTensor *loss = model->findResult("importance_loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_NEAR(loss->data<float>()[0], (1.0f / 6) / 2.25f, 1e-6f);
}

/// An i32 [4] tensor holding `values`.
HostTensor indexTensor(std::vector<int32_t> values) {
  Expected<HostTensor> t = HostTensor::create(DType::I32, {4});
  EXPECT_TRUE(t.ok());
  std::copy(values.begin(), values.end(), t->data<int32_t>());
  return std::move(*t);
}

TEST_F(ModelTest, ReportsAFailedRunTimeCheck) {
  Expected<Model> model = Model::load(artifactPath("checked"));
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->signature().abiVersion, 2);
  ASSERT_EQ(model->signature().checks.size(), 2u);

  ASSERT_TRUE(model->bindInput("index", indexTensor({1, 2, 3, 4})).ok());
  Status s = model->run();
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_NE(model->findResult("out"), nullptr);
  EXPECT_EQ(model->findResult("out")->data<float>()[3], 8.0f);

  // The check's message with its values; no results after a failed run.
  ASSERT_TRUE(model->bindInput("index", indexTensor({1, 2, -7, 4})).ok());
  s = model->run();
  EXPECT_EQ(s.message(), "input 'index' holds -7 at [2], outside [0, 10)");
  EXPECT_TRUE(model->results().empty());
  EXPECT_EQ(model->findResult("out"), nullptr);

  // A status the signature does not describe is reported as such.
  ASSERT_TRUE(model->bindInput("index", indexTensor({99, 0, 0, 0})).ok());
  s = model->run();
  EXPECT_EQ(s.message(),
            "the entry failed with status 5, which its signature does not "
            "describe");

  // The status record is zeroed before every call.
  ASSERT_TRUE(model->bindInput("index", indexTensor({0, 0, 0, 9})).ok());
  s = model->run();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(model->results().size(), 1u);
}

TEST_F(ModelTest, RunsGridsOnTheExecutor) {
  Expected<Model> model = Model::load(artifactPath("grid"));
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->signature().abiVersion, 3);
  EXPECT_EQ(model->threads(), 0u);
  ASSERT_TRUE(model->bindInput("x", rampF32({64}, 0.0f, 1.0f)).ok());
  for (unsigned threads : {1u, 2u, 3u, 7u}) {
    ASSERT_TRUE(model->setThreads(threads).ok());
    EXPECT_EQ(model->threads(), threads);
    Status s = model->run();
    ASSERT_TRUE(s.ok()) << s.message();
    const HostTensor *out = model->findResult("out");
    const HostTensor *visits = model->findResult("visits");
    ASSERT_NE(out, nullptr);
    ASSERT_NE(visits, nullptr);
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(out->data<float>()[i], 2.0f * i);
      EXPECT_EQ(visits->data<int64_t>()[i], 1) << "workgroup " << i;
    }
  }
  EXPECT_EQ(model->setThreads(0).message(),
            "the number of threads must be in [1, 1024], got 0");
}

TEST_F(ModelTest, ReportsABadThreadCountInTheEnvironment) {
  Expected<Model> model = Model::load(artifactPath("grid"));
  ASSERT_TRUE(model.ok()) << model.message();
  ASSERT_TRUE(model->bindInput("x", rampF32({64}, 0.0f, 1.0f)).ok());
  std::string saved;
  if (const char *old = std::getenv("MOE_NUM_THREADS"))
    saved = old;
  setenv("MOE_NUM_THREADS", "lots", 1);
  Status s = model->run();
  if (saved.empty())
    unsetenv("MOE_NUM_THREADS");
  else
    setenv("MOE_NUM_THREADS", saved.c_str(), 1);
  EXPECT_EQ(s.message(),
            "MOE_NUM_THREADS must be an integer in [1, 1024], got 'lots'");
  // A thread count set on the model needs no environment.
  ASSERT_TRUE(model->setThreads(2).ok());
  EXPECT_TRUE(model->run().ok());
}

TEST(FormatCheckMessageTest, ReplacesPlaceholdersWithValues) {
  EXPECT_EQ(formatCheckMessage("a {0} b {1} c {0}", {7, -3}), "a 7 b -3 c 7");
  // Braces that are not placeholders of a value stay as they are.
  EXPECT_EQ(formatCheckMessage("{2} {x} {} {0", {1, 2}), "{2} {x} {} {0");
  EXPECT_EQ(formatCheckMessage("{00}{01}", {5, 6}), "56");
  EXPECT_EQ(formatCheckMessage("{123456789012345678901}", {1}),
            "{123456789012345678901}");
}

//===----------------------------------------------------------------------===//
// Binding errors
//===----------------------------------------------------------------------===//

TEST_F(ModelTest, ReportsAMissingWeight) {
  std::string weights = path("w.safetensors");
  std::map<std::string, HostTensor> tensors;
  tensors["w"] = affineW();
  ASSERT_TRUE(writeSafeTensors(weights, tensors).ok());
  Model model = loadAffine();
  expectError(model.bindWeights(weights),
              "weight 'bias' is missing from '" + weights + "' (it has: 'w')");
}

TEST_F(ModelTest, ReportsAWeightOfTheWrongShape) {
  std::string weights = path("w.safetensors");
  std::map<std::string, HostTensor> tensors;
  tensors["w"] = rampF32({3, 5}, 0, 1);
  tensors["bias"] = affineBias();
  ASSERT_TRUE(writeSafeTensors(weights, tensors).ok());
  Model model = loadAffine();
  expectError(model.bindWeights(weights),
              "weight 'w' in '" + weights +
                  "': expected f32 [3, 4], got f32 [3, 5]");
}

TEST_F(ModelTest, ReportsAWeightOfTheWrongDType) {
  std::string weights = path("w.safetensors");
  std::map<std::string, HostTensor> tensors;
  tensors["w"] = affineW();
  tensors["bias"] = patternTensor(DType::F64, {4});
  ASSERT_TRUE(writeSafeTensors(weights, tensors).ok());
  Model model = loadAffine();
  expectError(model.bindWeights(weights),
              "weight 'bias' in '" + weights +
                  "': expected f32 [4], got f64 [4]");
}

TEST_F(ModelTest, BindsNoWeightWhenOneFails) {
  std::string weights = path("w.safetensors");
  std::map<std::string, HostTensor> tensors;
  tensors["w"] = affineW();
  tensors["bias"] = rampF32({5}, 0, 1);
  ASSERT_TRUE(writeSafeTensors(weights, tensors).ok());
  Model model = loadAffine();
  ASSERT_FALSE(model.bindWeights(weights).ok());
  ASSERT_TRUE(model.bindInput("x", affineX()).ok());
  expectError(model.run(), "2 arguments are not bound: weight 'w', weight "
                           "'bias'");
}

TEST_F(ModelTest, ReportsATruncatedWeightFile) {
  std::string weights = path("w.safetensors");
  writeAffineWeights(weights);
  std::string bytes = readBytes(weights);
  writeBytes(weights, bytes.substr(0, bytes.size() - 3));
  Model model = loadAffine();
  Status s = model.bindWeights(weights);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("safetensors file '" + weights + "': ", 0), 0u)
      << s.message();
  EXPECT_NE(s.message().find("extend past the"), std::string::npos)
      << s.message();
}

TEST_F(ModelTest, ReportsUnboundArguments) {
  Model model = loadAffineWithWeights();
  expectError(model.run(), "input 'x' is not bound");
  EXPECT_TRUE(model.results().empty());

  Model bare = loadAffine();
  expectError(bare.run(), "3 arguments are not bound: input 'x', weight 'w', "
                          "weight 'bias'");
}

TEST_F(ModelTest, ReportsUnknownAndMisusedNames) {
  Model model = loadAffine();
  expectError(model.bindInput("y", affineX()),
              "no input named 'y' (inputs: 'x')");
  expectError(model.bindInput("w", affineW()),
              "'w' is a weight, not an input (inputs: 'x')");
  expectError(model.bindWeight("x", affineX()),
              "'x' is an input, not a weight (weights: 'w', 'bias')");
  expectError(model.bindWeight("out", affineX()),
              "no weight named 'out' (weights: 'w', 'bias')");
  expectError(model.bindInputNpy("y", path("x.npy")),
              "no input named 'y' (inputs: 'x')");
}

TEST_F(ModelTest, ReportsInputsOfTheWrongType) {
  Model model = loadAffine();
  expectError(model.bindInput("x", rampF32({2, 3, 5}, 0, 1)),
              "input 'x': expected f32 [2, 3, 4], got f32 [2, 3, 5]");
  expectError(model.bindInput("x", patternTensor(DType::I32, {2, 3, 4})),
              "input 'x': expected f32 [2, 3, 4], got i32 [2, 3, 4]");
  std::string x = path("x.npy");
  ASSERT_TRUE(writeNpy(x, patternTensor(DType::F64, {2, 3, 4})).ok());
  expectError(model.bindInputNpy(x), "input 'x' from '" + x +
                                         "': expected f32 [2, 3, 4], got f64 "
                                         "[2, 3, 4]");
  expectError(model.bindInputNpy(path("missing.npy")),
              "npy file '" + path("missing.npy") +
                  "': cannot open: No such file or directory");
}

//===----------------------------------------------------------------------===//
// Models made from an entry function (the JIT path)
//===----------------------------------------------------------------------===//

// What recordingEntry saw: the words of each descriptor.
std::vector<std::vector<int64_t>> recorded;
// The ranks of the arguments and results of kRecordingSignature.
const size_t kRecordingRanks[] = {0, 1, 2, 2, 3};

const char *kRecordingSignature =
    R"({"entry":"record","args":[)"
    R"({"name":"s","role":"input","dtype":"f32","shape":[]},)"
    R"({"name":"v","role":"weight","dtype":"i32","shape":[5]},)"
    R"({"name":"m","role":"input","dtype":"f64","shape":[2,3]}],)"
    R"("results":[{"name":"t","dtype":"i64","shape":[2,3]},)"
    R"({"name":"empty","dtype":"f32","shape":[4,0,2]}]})";

/// Records every descriptor, and writes t = int64(m).
void recordingEntry(void **args) {
  recorded.clear();
  for (size_t i = 0; i < 5; ++i) {
    const auto *words = static_cast<const int64_t *>(args[i]);
    recorded.emplace_back(words, words + 3 + 2 * kRecordingRanks[i]);
  }
  auto *m = reinterpret_cast<const double *>(recorded[2][1]);
  auto *t = reinterpret_cast<int64_t *>(recorded[3][1]);
  for (int i = 0; i < 6; ++i)
    t[i] = static_cast<int64_t>(m[i]);
}

TEST(ModelFromEntryTest, PassesMLIRMemRefDescriptors) {
  bool released = false;
  std::shared_ptr<void> keepAlive(new int(0), [&](void *p) {
    released = true;
    delete static_cast<int *>(p);
  });
  Expected<Model> made =
      Model::fromEntry(kRecordingSignature, recordingEntry, keepAlive);
  ASSERT_TRUE(made.ok()) << made.message();
  keepAlive.reset();
  Model model = std::move(*made); // moving keeps the code alive
  EXPECT_FALSE(released);

  HostTensor s = rampF32({}, 1, 0);
  HostTensor v = *HostTensor::create(DType::I32, {5});
  HostTensor m = *HostTensor::create(DType::F64, {2, 3});
  for (int i = 0; i < 6; ++i)
    m.data<double>()[i] = 10.5 * i;
  auto address = [](const HostTensor &t) {
    return reinterpret_cast<int64_t>(t.bytes());
  };
  const int64_t sAddress = address(s), vAddress = address(v),
                mAddress = address(m);
  ASSERT_TRUE(model.bindInput("s", std::move(s)).ok());
  ASSERT_TRUE(model.bindWeight("v", std::move(v)).ok());
  ASSERT_TRUE(model.bindInput("m", std::move(m)).ok());
  Status status = model.run();
  ASSERT_TRUE(status.ok()) << status.message();

  // {allocated, aligned, offset, sizes..., strides...}, dense row-major.
  int64_t tAddress = address(model.results()[0]);
  ASSERT_EQ(recorded.size(), 5u);
  EXPECT_EQ(recorded[0], (std::vector<int64_t>{sAddress, sAddress, 0}));
  EXPECT_EQ(recorded[1], (std::vector<int64_t>{vAddress, vAddress, 0, 5, 1}));
  EXPECT_EQ(recorded[2],
            (std::vector<int64_t>{mAddress, mAddress, 0, 2, 3, 3, 1}));
  EXPECT_EQ(recorded[3],
            (std::vector<int64_t>{tAddress, tAddress, 0, 2, 3, 3, 1}));
  EXPECT_EQ(std::vector<int64_t>(recorded[4].begin() + 2, recorded[4].end()),
            (std::vector<int64_t>{0, 4, 0, 2, 0, 2, 1}));
  const HostTensor *t = model.findResult("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->data<int64_t>()[5], 52);
  EXPECT_EQ(model.findResult("empty")->typeString(), "f32 [4, 0, 2]");

  model = *Model::fromEntry(kRecordingSignature, recordingEntry, nullptr);
  EXPECT_TRUE(released);
}

TEST(ModelFromEntryTest, RefusesCodeForAnotherDevice) {
  std::string json = kRecordingSignature;
  std::string cuda = json.substr(0, json.size() - 1) +
                     R"(,"device":"cuda","abi":6,"checks":[],)"
                     R"("launches":[],"workspace_bytes":0})";
  Expected<Model> model = Model::fromEntry(cuda, recordingEntry, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message(),
            "its code runs on a cuda device (signature 'device'): it is a "
            "kernel binary with launches, not an entry function");
}

TEST(ModelFromEntryTest, RejectsANullEntryAndBadSignatures) {
  Expected<Model> model = Model::fromEntry(kRecordingSignature, nullptr, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message(), "the entry function is null");
  model = Model::fromEntry("{}", recordingEntry, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message(), "signature: missing field 'entry'");
}

/// kRecordingSignature with the `cpu` field `cpu`.
std::string recordingSignatureWithCpu(const std::string &cpu) {
  std::string json = kRecordingSignature;
  return json.substr(0, json.size() - 1) + R"(,"cpu":)" + cpu + "}";
}

/// Sets MOE_CPU_FEATURES_OVERRIDE to `features` until destroyed.
class HostFeatures : public ScopedEnvironment {
public:
  explicit HostFeatures(const char *features)
      : ScopedEnvironment("MOE_CPU_FEATURES_OVERRIDE", features) {}
};

TEST(ModelFromEntryTest, RefusesCodeForFeaturesThisCpuLacks) {
  HostFeatures host("sse4.2,avx,avx2,fma");
  std::string v4 = recordingSignatureWithCpu(
      R"({"name":"x86-64-v4","features":)"
      R"(["sse4.2","avx","avx2","fma","avx512f","avx512bw","fast-gather"]})");
  Expected<Model> model = Model::fromEntry(v4, recordingEntry, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message(), "built for CPU 'x86-64-v4' with features "
                             "avx512f, avx512bw that this CPU lacks");
  // The code would run: the host has every feature it checks.
  std::string v3 = recordingSignatureWithCpu(
      R"({"name":"x86-64-v3","features":["avx","avx2","fma","avx9"]})");
  model = Model::fromEntry(v3, recordingEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->signature().cpu->name, "x86-64-v3");
  // A bad override is reported rather than taken as no features.
  HostFeatures typo("avx,avx3");
  model = Model::fromEntry(v3, recordingEntry, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.message().rfind(
                "MOE_CPU_FEATURES_OVERRIDE: unknown CPU feature 'avx3'", 0),
            0u)
      << model.message();
}

// An entry taking its weight packed in strips (ABI 4): w [2, 3] in strips of
// 2 columns is handed over as [2, 2, 2] (the last strip padded with zeros).
const char *kPackedSignature =
    R"({"entry":"packed","abi":4,"checks":[],"args":[)"
    R"({"name":"w","role":"weight","dtype":"f32","shape":[2,3],"strips":2}],)"
    R"("results":[{"name":"copy","dtype":"f32","shape":[8]}]})";

/// Copies the weight it is given (whatever its layout) into its result.
void copyingEntry(void **args) {
  const auto *w = static_cast<const int64_t *>(args[0]);
  const auto *out = static_cast<const int64_t *>(args[1]);
  // The descriptor of the packed weight: rank 3, sizes 2 x 2 x 2.
  recorded = {std::vector<int64_t>(w + 3, w + 6)};
  std::memcpy(reinterpret_cast<float *>(out[1]),
              reinterpret_cast<const float *>(w[1]), 8 * sizeof(float));
}

class PackedModelTest : public TempDirTest {};

TEST_F(PackedModelTest, BindsWeightsPackedInStrips) {
  HostTensor w = *HostTensor::create(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    w.data<float>()[i] = float(i + 1); // [[1, 2, 3], [4, 5, 6]]
  const std::vector<float> packed = {1, 2, 4, 5, 3, 0, 6, 0};
  auto expectPacked = [&](Model &model) {
    Status s = model.run();
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(recorded, (std::vector<std::vector<int64_t>>{{2, 2, 2}}));
    const HostTensor *copy = model.findResult("copy");
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(std::vector<float>(copy->data<float>(), copy->data<float>() + 8),
              packed);
  };
  // From memory, from a file of the model's own and from a shared file: the
  // caller always gives the logical [2, 3].
  Expected<Model> model = Model::fromEntry(kPackedSignature, copyingEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  ASSERT_TRUE(model->bindWeight("w", *w.clone()).ok());
  expectPacked(*model);
  std::string file = path("w.safetensors");
  std::map<std::string, HostTensor> tensors;
  tensors.emplace("w", *w.clone());
  ASSERT_TRUE(writeSafeTensors(file, tensors).ok());
  model = Model::fromEntry(kPackedSignature, copyingEntry, {});
  ASSERT_TRUE(model->bindWeights(file).ok());
  expectPacked(*model);
  auto shared = std::make_shared<const SafeTensorsFile>(*readSafeTensors(file));
  model = Model::fromEntry(kPackedSignature, copyingEntry, {});
  ASSERT_TRUE(model->bindWeights(shared).ok());
  expectPacked(*model);
  // The shared file is left as it was.
  EXPECT_EQ(shared->tensors.at("w").shape(), (std::vector<int64_t>{2, 3}));
  // A packed weight is checked against its logical type.
  expectError(model->bindWeight("w", *HostTensor::create(DType::F32, {2, 2})),
              "weight 'w': expected f32 [2, 3], got f32 [2, 2]");
}

TEST(ModelFromEntryTest, NeedsANameForANpyFileWhenThereAreSeveralInputs) {
  Expected<Model> model =
      Model::fromEntry(kRecordingSignature, recordingEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  expectError(model->bindInputNpy("m.npy"),
              "'m.npy' does not name the input it binds, but the model has 2 "
              "inputs ('s', 'm')");
}

} // namespace

//===----------------------------------------------------------------------===//
// Entries called once per group (ABI 5)
//===----------------------------------------------------------------------===//

const char *kGroupSignature =
    R"({"entry":"groups","abi":5,"checks":["x is negative at {0}"],"args":[)"
    R"({"name":"x","role":"input","dtype":"f32","shape":[2,3],"per_group":true},)"
    R"({"name":"w","role":"weight","dtype":"f32","shape":[3]}],)"
    R"("results":[{"name":"y","dtype":"f32","shape":[2,3],"per_group":true},)"
    R"({"name":"call","dtype":"i64","shape":[1],"per_group":true}]})";

// The calls of groupEntry since the counter was reset.
int64_t groupCalls = 0;

/// y = x + w (broadcast) for one group of 2 rows; call = the call's number;
/// fails its check on a negative x.
void groupEntry(void **args) {
  auto data = [&](int i) {
    return reinterpret_cast<void *>(static_cast<const int64_t *>(args[i])[1]);
  };
  const int64_t *x = static_cast<const int64_t *>(args[0]);
  EXPECT_EQ(x[3], 2); // one group's rows
  EXPECT_EQ(x[4], 3);
  auto *in = static_cast<const float *>(data(0));
  auto *w = static_cast<const float *>(data(1));
  auto *y = static_cast<float *>(data(2));
  auto *call = static_cast<int64_t *>(data(3));
  auto *status = static_cast<int64_t *>(data(4));
  for (int i = 0; i < 6; ++i) {
    if (in[i] < 0) {
      status[0] = 1;
      status[1] = i;
      return;
    }
    y[i] = in[i] + w[i % 3];
  }
  call[0] = groupCalls++;
}

TEST(ModelGroupsTest, CallsTheEntryOncePerGroup) {
  Expected<Model> model = Model::fromEntry(kGroupSignature, groupEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->signature().args[0].typeString(), "f32 [2*G, 3]");
  EXPECT_EQ(model->signature().results[1].typeString(), "i64 [G]");
  EXPECT_EQ(model->signature().args[0].declaredShape,
            (std::vector<int64_t>{-1, 3}));
  ASSERT_TRUE(model->bindWeight("w", rampF32({3}, 0, 100)).ok());
  for (int64_t groups : {3, 1, 4}) {
    groupCalls = 0;
    ASSERT_TRUE(model->bindInput("x", rampF32({2 * groups, 3}, 0, 1)).ok());
    Status status = model->run();
    ASSERT_TRUE(status.ok()) << status.message();
    const HostTensor &y = *model->findResult("y");
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{2 * groups, 3}));
    for (int64_t i = 0; i < 6 * groups; ++i)
      EXPECT_EQ(y.data<float>()[i], float(i + 100 * (i % 3)));
    const HostTensor &call = *model->findResult("call");
    ASSERT_EQ(call.shape(), (std::vector<int64_t>{groups}));
    for (int64_t g = 0; g < groups; ++g)
      EXPECT_EQ(call.data<int64_t>()[g], g);
  }
}

TEST(ModelGroupsTest, ReportsRowsThatAreNotWholeGroupsAndAFailedGroup) {
  Expected<Model> model = Model::fromEntry(kGroupSignature, groupEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  ASSERT_TRUE(model->bindWeight("w", rampF32({3}, 1, 0)).ok());
  for (std::vector<int64_t> shape : {std::vector<int64_t>{3, 3}, {0, 3}, {2}})
    expectError(model->bindInput("x", *HostTensor::create(DType::F32, shape)),
                "input 'x': expected f32 [2*G, 3], got f32 " +
                    shapeString(shape));
  HostTensor x = rampF32({6, 3}, 1, 0);
  x.data<float>()[10] = -1; // group 1, element 4
  ASSERT_TRUE(model->bindInput("x", std::move(x)).ok());
  expectError(model->run(), "group 1 of 3: x is negative at 4");
  EXPECT_TRUE(model->results().empty());
}

void twoInputEntry(void **) {}

TEST(ModelGroupsTest, ReportsInputsOfDifferentGroupCounts) {
  Expected<Model> model = Model::fromEntry(
      R"({"entry":"two","abi":5,"args":[)"
      R"({"name":"a","role":"input","dtype":"f32","shape":[1,2],"per_group":true},)"
      R"({"name":"b","role":"input","dtype":"f32","shape":[2,2],"per_group":true}],)"
      R"("results":[{"name":"y","dtype":"f32","shape":[1],"per_group":true}]})",
      twoInputEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  ASSERT_TRUE(model->bindInput("a", rampF32({3, 2}, 1, 0)).ok());
  ASSERT_TRUE(model->bindInput("b", rampF32({4, 2}, 1, 0)).ok());
  expectError(model->run(), "input 'b' holds 2 groups (4 rows of 2), but "
                            "input 'a' holds 3");
}

// Two groups per call: what each call of pairEntry saw, its x's rows.
std::vector<std::vector<float>> pairCalls;

/// y = 10 * x for two groups of one row of 2 (a call's x is [2, 2]).
void pairEntry(void **args) {
  auto data = [&](int i) {
    return reinterpret_cast<void *>(static_cast<const int64_t *>(args[i])[1]);
  };
  const int64_t *x = static_cast<const int64_t *>(args[0]);
  EXPECT_EQ(x[3], 2); // two groups of one row
  auto *in = static_cast<const float *>(data(0));
  auto *y = static_cast<float *>(data(1));
  pairCalls.emplace_back(in, in + 4);
  for (int i = 0; i < 4; ++i)
    y[i] = 10 * in[i];
}

TEST(ModelGroupsTest, PadsTheLastCallOfSeveralGroupsWithItsLastGroup) {
  Expected<Model> model = Model::fromEntry(
      R"({"entry":"pairs","abi":5,"groups_per_call":2,"args":[)"
      R"({"name":"x","role":"input","dtype":"f32","shape":[1,2],"per_group":true}],)"
      R"("results":[{"name":"y","dtype":"f32","shape":[1,2],"per_group":true}]})",
      pairEntry, {});
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->signature().groupsPerCall, 2);
  for (int64_t groups : {3, 1, 2}) {
    pairCalls.clear();
    ASSERT_TRUE(model->bindInput("x", rampF32({groups, 2}, 1, 1)).ok());
    Status status = model->run();
    ASSERT_TRUE(status.ok()) << status.message();
    const HostTensor &y = *model->findResult("y");
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{groups, 2}));
    for (int64_t i = 0; i < 2 * groups; ++i)
      EXPECT_EQ(y.data<float>()[i], 10.0f * (i + 1));
    ASSERT_EQ(pairCalls.size(), size_t((groups + 1) / 2));
    // An odd count's last call: its group, then a copy of it.
    if (groups % 2) {
      EXPECT_EQ(pairCalls.back(),
                (std::vector<float>{float(2 * groups - 1), float(2 * groups),
                                    float(2 * groups - 1), float(2 * groups)}));
    }
  }
}
