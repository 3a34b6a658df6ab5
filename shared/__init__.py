"""MSP licensing: buy and assign Microsoft 365 seats through TD SYNNEX StreamOne Stellr."""
