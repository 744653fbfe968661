package io.senseflow.eval;

/** Cyclic Jacobi eigen-decomposition of real symmetric matrices (small d; double precision). */
final class SymmetricEigen {
    private SymmetricEigen() {
    }

    /** Result: eigenvalues and eigenvectors as columns of {@code vectors}. */
    record Decomposition(double[] values, double[][] vectors) {
    }

    static Decomposition decompose(double[][] input) {
        int n = input.length;
        double[][] a = new double[n][];
        for (int i = 0; i < n; i++) {
            a[i] = input[i].clone();
        }
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) {
            v[i][i] = 1;
        }
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            double diag = 0;
            for (int i = 0; i < n; i++) {
                diag += a[i][i] * a[i][i];
                for (int j = i + 1; j < n; j++) {
                    off += a[i][j] * a[i][j];
                }
            }
            if (off <= 1e-30 * Math.max(diag, 1e-300)) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    double apq = a[p][q];
                    if (apq == 0) {
                        continue;
                    }
                    double theta = (a[q][q] - a[p][p]) / (2 * apq);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(t * t + 1);
                    double s = t * c;
                    for (int k = 0; k < n; k++) {
                        double akp = a[k][p];
                        double akq = a[k][q];
                        a[k][p] = c * akp - s * akq;
                        a[k][q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++) {
                        double apk = a[p][k];
                        double aqk = a[q][k];
                        a[p][k] = c * apk - s * aqk;
                        a[q][k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++) {
                        double vkp = v[k][p];
                        double vkq = v[k][q];
                        v[k][p] = c * vkp - s * vkq;
                        v[k][q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = a[i][i];
        }
        return new Decomposition(values, v);
    }

    static double[] eigenvalues(double[][] m) {
        return decompose(m).values();
    }

    /** The symmetric positive semi-definite square root (negative eigenvalues clipped to 0). */
    static double[][] sqrt(double[][] m) {
        Decomposition d = decompose(m);
        int n = m.length;
        double[][] out = new double[n][n];
        for (int k = 0; k < n; k++) {
            double r = Math.sqrt(Math.max(d.values()[k], 0));
            for (int i = 0; i < n; i++) {
                double vik = d.vectors()[i][k] * r;
                for (int j = 0; j < n; j++) {
                    out[i][j] += vik * d.vectors()[j][k];
                }
            }
        }
        return out;
    }
}
