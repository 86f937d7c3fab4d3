-- Placeholder on the deliverers branch only: 0011 is the tenants migration (issue 19). Delete this file
-- when merging the branch that brings the real 0011; migration numbers must run without gaps.
SELECT 1;
