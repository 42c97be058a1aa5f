// Lets `import analogtorch._C` (or `_C_cuda`) load the shared library, whose static initialisers
// register the ops with the dispatcher. The module itself defines nothing: ops live in torch.ops.
#include <Python.h>

#define ANALOGTORCH_CONCAT_(a, b) a##b
#define ANALOGTORCH_CONCAT(a, b) ANALOGTORCH_CONCAT_(a, b)
#define ANALOGTORCH_STRINGIFY_(a) #a
#define ANALOGTORCH_STRINGIFY(a) ANALOGTORCH_STRINGIFY_(a)

#ifndef ANALOGTORCH_MODULE
#define ANALOGTORCH_MODULE _C
#endif

extern "C" PyMODINIT_FUNC ANALOGTORCH_CONCAT(PyInit_, ANALOGTORCH_MODULE)(void) {
  static struct PyModuleDef module_def = {
      PyModuleDef_HEAD_INIT, ANALOGTORCH_STRINGIFY(ANALOGTORCH_MODULE), nullptr, -1, nullptr,
  };
  return PyModule_Create(&module_def);
}
