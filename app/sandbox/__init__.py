"""Local emulators of the Google Calendar v3 and Microsoft Graph v1.0 calendar APIs."""
