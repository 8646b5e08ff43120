-- The extension loads and a vector round-trips.
SELECT '[1,2,3]'::vector;
SELECT '[1,2,3]'::vector <-> '[4,6,3]'::vector AS l2;
