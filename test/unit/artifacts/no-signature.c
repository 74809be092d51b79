/*===- no-signature.c - Test artifact: moe_entry but no signature ---------===*/

void moe_entry(void **args) { (void)args; }
