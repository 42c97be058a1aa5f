// Lets `import analogtorch._C_cuda` load the CUDA library, whose static initialisers register the
// CUDA kernels with the dispatcher. The module itself defines nothing.
#include <Python.h>

extern "C" PyMODINIT_FUNC PyInit__C_cuda(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C_cuda", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
