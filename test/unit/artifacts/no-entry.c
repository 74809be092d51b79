/*===- no-entry.c - Test artifact: a signature but no moe_entry -----------===*/

const char moe_signature_json[] =
    "{\"entry\": \"f\", \"args\": [],"
    " \"results\": [{\"name\": \"out\", \"dtype\": \"f32\", \"shape\": []}]}";
