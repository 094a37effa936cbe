// Debian ships cblas.h under the pkg-config include dir of the selected OpenBLAS flavour.
#include <cblas.h>
#include <stddef.h>

// The few LAPACK routines the Geometry module uses. OpenBLAS ships LAPACK but its headers do not
// declare the Fortran entry points, so they are declared here. Fortran passes every argument by
// reference, and gfortran appends one hidden length per character argument.
void dgesvd_(const char *jobu, const char *jobvt, const blasint *m, const blasint *n, double *a, const blasint *lda,
             double *s, double *u, const blasint *ldu, double *vt, const blasint *ldvt,
             double *work, const blasint *lwork, blasint *info, size_t jobu_length, size_t jobvt_length);
void dgeev_(const char *jobvl, const char *jobvr, const blasint *n, double *a, const blasint *lda,
            double *wr, double *wi, double *vl, const blasint *ldvl, double *vr, const blasint *ldvr,
            double *work, const blasint *lwork, blasint *info, size_t jobvl_length, size_t jobvr_length);
void dgesv_(const blasint *n, const blasint *nrhs, double *a, const blasint *lda, blasint *ipiv,
            double *b, const blasint *ldb, blasint *info);
