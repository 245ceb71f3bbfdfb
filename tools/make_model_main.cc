// pagellm-make-model: the make-model command as a standalone program.
#include "tools/make_model.h"

int main(int argc, char** argv) { return pagellm::MakeModelMain(argc, argv); }
