DROP TABLE projection_set_aside;
