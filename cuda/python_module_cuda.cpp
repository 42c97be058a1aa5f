// The Python module stub of the CUDA library (see csrc/python_module.cpp): a source file of its
// own so that its object does not collide with the CPU module's in the build directory.
#define ANALOGTORCH_MODULE _C_cuda
#include "../csrc/python_module.cpp"
