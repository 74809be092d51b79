/*===- fake-cuda.c - Test artifact: a GPU artifact for the fake driver ----===*/
/*
 * A CUDA artifact (ABI 6, docs/artifact-abi.md) whose binary the fake CUDA
 * driver (test/unit/fakecuda) accepts: one launch of its one kernel,
 * fake_scale(data, n, factor), on the input's device buffer; the result `y`
 * is a device buffer no launch writes. Its input and result are per group,
 * one group a call (ABI 5). Data only, as moe-compile --target=cuda writes.
 */
#include <stdint.h>

const char moe_signature_json[] =
    "{\"entry\":\"f\",\"abi\":6,\"checks\":[],\"device\":\"cuda\","
    "\"groups_per_call\":1,"
    "\"args\":[{\"name\":\"x\",\"role\":\"input\",\"dtype\":\"f32\","
    "\"shape\":[1,13],\"per_group\":true},"
    "{\"name\":\"w\",\"role\":\"weight\",\"dtype\":\"f32\",\"shape\":[4]}],"
    "\"results\":[{\"name\":\"y\",\"dtype\":\"f32\",\"shape\":[1,13],"
    "\"per_group\":true}],"
    "\"workspace_bytes\":64,\"launches\":["
    "{\"kernel\":\"fake_scale\",\"grid\":[2,1,1],\"block\":[8,1,1],"
    "\"args\":[{\"arg\":0},{\"i32\":13},{\"f32\":2.0}]}]}";

const char moe_device_binary[] = "FAKECUBIN";
const uint64_t moe_device_binary_size = sizeof(moe_device_binary);
