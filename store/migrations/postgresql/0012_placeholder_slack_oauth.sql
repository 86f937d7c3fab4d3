-- Placeholder on the deliverers branch only: 0012 is the slack-oauth migration (issue 19). Delete this file
-- when merging the branch that brings the real 0012; migration numbers must run without gaps.
SELECT 1;
