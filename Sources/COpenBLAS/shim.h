// Debian ships cblas.h under the pkg-config include dir of the selected OpenBLAS flavour.
#include <cblas.h>
