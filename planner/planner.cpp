// placeholder so the library is not empty until the planner lands
