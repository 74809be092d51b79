/*===- bad-signature.c - Test artifact: a signature that is not JSON ------===*/

const char moe_signature_json[] = "{\"entry\": \"f\", \"args\": [}";

void moe_entry(void **args) { (void)args; }
