/*===- unterminated-signature.c - Test artifact: no NUL after JSON --------===//
 *
 * C allows a char array exactly as long as its initializer's characters, so
 * this array has no terminating NUL; the runtime must not read past it.
 *
 *===----------------------------------------------------------------------===*/

const char moe_signature_json[2] = "{}";

void moe_entry(void **args) { (void)args; }
