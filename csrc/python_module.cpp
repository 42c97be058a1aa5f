// Lets `import analogtorch._C` load the shared library, whose static initialisers register the ops
// with the dispatcher (ops live in torch.ops). The module's one function is not an op:
// cpu_capability(), the instruction set the CPU element loops run with (cpu/backend.h).
#include <Python.h>

#include <exception>

#include "cpu/backend.h"

namespace {

PyObject* cpu_capability(PyObject*, PyObject*) {
  try {
    return PyUnicode_FromString(analogtorch::cpu_capability_name(analogtorch::cpu_capability()));
  } catch (const std::exception& error) {
    PyErr_SetString(PyExc_ValueError, error.what());
    return nullptr;
  }
}

PyMethodDef methods[] = {
    {"cpu_capability", cpu_capability, METH_NOARGS,
     "The instruction set of the CPU kernels' element loops: 'default' (SSE2), 'avx2' or 'avx512'."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, methods};
  return PyModule_Create(&module_def);
}
