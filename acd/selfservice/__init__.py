"""Self-service state shared by the IVR and the supervisors: outages and complaint tickets."""
