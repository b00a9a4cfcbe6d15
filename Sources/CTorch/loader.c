#include "ctorch.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const kt_api *loaded_api;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char load_error[2048];

const char *kt_load_error(void) { return load_error; }

int kt_is_loaded(void) { return __atomic_load_n(&loaded_api, __ATOMIC_ACQUIRE) != NULL; }

static void *open_global(const char *directory, const char *name, char *failure, size_t failure_size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", directory, name);
  void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!handle) snprintf(failure, failure_size, "%s", dlerror());
  return handle;
}

int kt_load(const char *torch_library_directory, const char *shim_path, char *cuda_status, size_t cuda_status_size) {
  pthread_mutex_lock(&load_lock);
  int result = -1;
  if (loaded_api) {
    result = 0;
    goto done;
  }
  char failure[2048];
  if (!open_global(torch_library_directory, "libtorch_cpu.so", failure, sizeof failure)) {
    snprintf(load_error, sizeof load_error, "cannot load libtorch_cpu.so from %s: %s", torch_library_directory, failure);
    goto done;
  }
  /* CUDA kernels register themselves with ATen's dispatcher when libtorch_cuda loads. */
  if (open_global(torch_library_directory, "libtorch_cuda.so", failure, sizeof failure)) {
    snprintf(cuda_status, cuda_status_size, "loaded");
  } else {
    snprintf(cuda_status, cuda_status_size, "libtorch_cuda.so not loaded: %s", failure);
  }
  void *shim = dlopen(shim_path, RTLD_NOW | RTLD_LOCAL);
  if (!shim) {
    snprintf(load_error, sizeof load_error, "cannot load the torch shim %s: %s", shim_path, dlerror());
    goto done;
  }
  kt_api_getter getter = (kt_api_getter)dlsym(shim, KT_API_SYMBOL);
  if (!getter) {
    snprintf(load_error, sizeof load_error, "%s does not export %s", shim_path, KT_API_SYMBOL);
    goto done;
  }
  const kt_api *api = getter();
  if (!api || !api->signature || strcmp(api->signature, KT_SIGNATURE) != 0) {
    snprintf(load_error, sizeof load_error,
             "%s was built from another version of Kontext's operation list; rebuild it with this binary "
             "(swift build --product KontextTorchShim, or the same -c configuration as kontext)", shim_path);
    goto done;
  }
  __atomic_store_n(&loaded_api, api, __ATOMIC_RELEASE);
  result = 0;
done:
  pthread_mutex_unlock(&load_lock);
  return result;
}

#define KT_FORWARD(ret, name, params, args) \
  ret kt_##name params { return loaded_api->name args; }
KT_OPERATIONS(KT_FORWARD)
#undef KT_FORWARD
