-- Reserved for the tenants migration of issue 19 (its branch brings the real 0011; this file goes at the merge).
-- Here only so that 0012 follows 1..n without a gap on this branch.
SELECT 1;
